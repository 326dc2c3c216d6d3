// Fault injection through the admin API, the faults option and --fault, over real HTTP.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { parseDevIdpArgs } from '../../src/devidp/cli.js';
import { MAX_FAULT_RULES } from '../../src/devidp/faults.js';
import { ManualClock } from '../../src/util/clock.js';
import { TestBrowser } from '../helpers/browser.js';
import { login, startStack } from '../helpers/stack.js';
import { admin, startTestIdp, useTestIdp } from './helpers.js';

describe('dev IdP fault injection', () => {
  const idp = useTestIdp();
  afterEach(() => admin(idp, 'DELETE', 'faults'));

  const jwks = () => fetch(`${idp.issuer}/jwks`);

  it('nth fails only the Nth call from now, once, and is counted in stats', async () => {
    await admin(idp, 'POST', 'reset');
    const post = await admin(idp, 'POST', 'faults', { rules: [{ endpoint: 'jwks', nth: 3 }] });
    assert.equal(post.status, 200);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await jwks()).status);
    assert.deepEqual(statuses, [200, 200, 503, 200, 200, 200]);
    const list = await admin(idp, 'GET', 'faults');
    assert.deepEqual(list.json.rules, [
      { endpoint: 'jwks', kind: 'status', status: 503, nth: 3, fired: 1, spent: true },
    ]);
    assert.deepEqual(idp.stats().faults.jwks, { fired: 1 });
    assert.deepEqual((await admin(idp, 'GET', 'stats')).json, idp.stats());
    assert.deepEqual((await admin(idp, 'DELETE', 'faults')).json, { rules: [] });
  });

  it('rate-limit answers 429 with Retry-After; times spends the rule', async () => {
    await admin(idp, 'POST', 'faults', {
      rules: [{ endpoint: 'discovery', kind: 'rate-limit', retryAfter: 7, times: 2 }],
    });
    const url = `${idp.issuer}/.well-known/openid-configuration`;
    const a = await fetch(url);
    assert.equal(a.status, 429);
    assert.equal(a.headers.get('retry-after'), '7');
    assert.equal((await fetch(url)).status, 429);
    assert.equal((await fetch(url)).status, 200);
  });

  it('reset destroys the socket: the client gets a network error', async () => {
    await admin(idp, 'POST', 'faults', { rules: [{ endpoint: 'token', kind: 'reset' }] });
    await assert.rejects(
      fetch(`${idp.issuer}/token`, { method: 'POST', body: 'grant_type=refresh_token' }),
      (err: Error & { cause?: { code?: string } }) => err.cause?.code === 'ECONNRESET',
    );
  });

  it('malformed-json is a 200 whose body is not JSON; html is a proxy-style 502 page', async () => {
    await admin(idp, 'POST', 'faults', {
      rules: [
        { endpoint: 'userinfo', kind: 'malformed-json', nth: 1 },
        { endpoint: 'userinfo', kind: 'html', nth: 2 },
      ],
    });
    const first = await fetch(`${idp.issuer}/userinfo`);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-type'), 'application/json');
    await assert.rejects(first.json(), SyntaxError);
    const second = await fetch(`${idp.issuer}/userinfo`);
    assert.equal(second.status, 502);
    assert.match(second.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await second.text(), /502 Bad Gateway/);
  });

  it('latency delays the answer, which then comes from the real handler', async () => {
    await admin(idp, 'POST', 'faults', { rules: [{ endpoint: 'jwks', latencyMs: 150, jitterMs: 20 }] });
    const t0 = performance.now();
    const res = await jwks();
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(((await res.json()) as { keys: unknown[] }).keys));
    assert.ok(performance.now() - t0 >= 125);
  });

  it('stopping the IdP does not wait for an injected latency', async () => {
    const other = await startTestIdp({ faults: [{ endpoint: 'jwks', latencyMs: 60_000 }] });
    const pending = fetch(`${other.issuer}/jwks`).catch((err: Error) => err);
    const deadline = Date.now() + 5_000;
    while (other.stats().faults.jwks.fired === 0 && Date.now() < deadline)
      await new Promise((r) => setImmediate(r));
    assert.equal(other.stats().faults.jwks.fired, 1);
    const t0 = performance.now();
    await other.stop();
    assert.ok(performance.now() - t0 < 5_000);
    assert.ok((await pending) instanceof Error);
  });

  it('a seeded probability gives the same failures on two IdPs', async () => {
    const rule = { endpoint: 'jwks', probability: 0.5, seed: 42 };
    const run = async (url: string) => {
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await fetch(`${url}/jwks`)).status);
      return out;
    };
    const a = await startTestIdp({ faults: [rule] });
    const b = await startTestIdp();
    try {
      await admin(b, 'POST', 'faults', { rules: [rule] });
      const ra = await run(a.issuer);
      assert.deepEqual(await run(b.issuer), ra);
      assert.ok(ra.includes(503) && ra.includes(200), `both outcomes in ${ra}`);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('refuses bad rules with 400 naming the field, and caps the number of rules', async () => {
    const bad = async (rule: unknown, field: RegExp) => {
      const res = await admin(idp, 'POST', 'faults', { rules: [rule] });
      assert.equal(res.status, 400);
      assert.match(String(res.json.error_description), field);
    };
    await bad({ endpoint: 'nope' }, /rules\[0\]\.endpoint/);
    await bad({ endpoint: 'token', nth: 0 }, /rules\[0\]\.nth/);
    await bad({ endpoint: 'token', probability: 2 }, /rules\[0\]\.probability/);
    await bad({ endpoint: 'token', kind: 'explode' }, /rules\[0\]\.kind/);
    await bad({ endpoint: 'token', kind: 'html', status: 500 }, /rules\[0\]\.status/);
    await bad({ endpoint: 'token', colour: 'red' }, /rules\[0\]\.colour/);
    assert.equal((await admin(idp, 'POST', 'faults', { rules: 'x' })).status, 400);
    const many = Array.from({ length: MAX_FAULT_RULES + 1 }, () => ({ endpoint: 'token', nth: 1 }));
    const capped = await admin(idp, 'POST', 'faults', { rules: many });
    assert.equal(capped.status, 400);
    assert.match(String(capped.json.error_description), /at most/);
    assert.deepEqual((await admin(idp, 'GET', 'faults')).json.rules, []);
  });

  it('--fault parses with the same validator', async () => {
    const parsed = parseDevIdpArgs(['--fault', 'endpoint=token,nth=2,kind=status,status=500']);
    assert.equal(parsed.help, false);
    if (parsed.help) return;
    assert.deepEqual(parsed.options.faults, [{ endpoint: 'token', kind: 'status', status: 500, nth: 2 }]);
    assert.throws(() => parseDevIdpArgs(['--fault', 'endpoint=token,nth=x']), /--fault: nth must be/);
    await assert.rejects(startTestIdp({ faults: [{ endpoint: 'x' }] }), /faults\[0\]\.endpoint/);
  });
});

describe('Gatehouse under an injected token-endpoint fault', () => {
  const idp = useTestIdp();

  for (const kind of ['html', 'reset', 'malformed-json'] as const) {
    it(`a transient ${kind} fault during refresh does not log the user out`, async () => {
      const clock = new ManualClock();
      const s = await startStack({
        idpInstance: idp,
        clock,
        config: { refresh: { outageGraceSeconds: 120, retryBackoffSeconds: 5 } } as never,
      });
      try {
        const b = new TestBrowser();
        assert.equal((await login(s, b)).at(-1)?.status, 200);
        idp.reset();
        await admin(idp, 'POST', 'faults', { rules: [{ endpoint: 'token', kind, nth: 1 }] });
        clock.advance(300_000 + 1000); // past the access token's lifetime
        const during = await b.request(`${s.url}/x`, { kind: 'api' });
        assert.equal(during.status, 200, 'served within the outage grace');
        assert.equal(idp.stats().faults.token.fired, 1);
        clock.advance(6000); // past the back-off
        const back = await b.request(`${s.url}/x`, { kind: 'api' });
        assert.equal(back.status, 200, 'the same session refreshes, no new login');
        assert.equal(idp.stats().grants.refresh_token, 1);
      } finally {
        await admin(idp, 'DELETE', 'faults');
        await s.close();
      }
    });
  }
});
