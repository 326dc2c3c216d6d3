import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { SessionRecord } from '../../src/session/record.js';
import { RecordMac } from '../../src/session/recordMac.js';
import { ManualClock } from '../../src/util/clock.js';
import { type Reply, TestBrowser } from '../helpers/browser.js';
import { spawnCli } from '../helpers/cli.js';
import { startTestIdp } from '../helpers/devIdp.js';
import { freePort, login, type Stack, startStack, TEST_SECRET } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { startEchoUpstream } from '../helpers/upstream.js';

type Echo = { headers: Record<string, string | undefined> };

const SECRET_A = TEST_SECRET;
const SECRET_B = 'rotated-secret-rotated-secret-rotated-secret-B-0123';

/**
 * Issue 14 part 5: `session.secret` / `previousSecrets` are rotated by a reload (SIGHUP,
 * `--watch`, Gateway.reload) without a restart. The new secret signs from the reload on; sessions,
 * sealed tokens and login flows made under a secret still listed keep working; once it is dropped
 * they get the normal sign-in (401 for an API call, a redirect for a navigation), never a 500.
 */
describe('session secret rotation on reload', () => {
  /** The configuration the stack runs with, with these session secrets. */
  const config = (s: Stack, secret: string, previousSecrets: string[]) =>
    loadConfig({
      env: {},
      object: {
        listen: s.cfg.listen,
        publicUrl: s.cfg.publicUrl,
        upstream: s.cfg.upstream,
        provider: { issuer: s.idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
        session: { secret, previousSecrets },
        headers: { passAccessToken: true },
        logging: { level: 'debug' },
      },
    });
  const api = (s: Stack, b: TestBrowser, path: string): Promise<Reply> =>
    b.request(`${s.url}${path}`, { kind: 'api' });
  const userOf = (r: Reply) => r.json<Echo>().headers['x-forwarded-user'];
  const accessTokenOf = (r: Reply) => r.json<Echo>().headers['x-forwarded-access-token'];
  /** The IdP authorize URL with `login_hint` choosing the user (the dev IdP signs in at once). */
  const as = (user: string, authorize: string) => {
    const u = new URL(authorize);
    u.searchParams.set('login_hint', user);
    return u.href;
  };

  it('B with A in previousSecrets keeps A sessions, refreshes and logins in flight; dropping A signs them out cleanly', async () => {
    const clock = new ManualClock();
    const s = await startStack({ clock, config: { headers: { passAccessToken: true } } as never });
    try {
      // Under secret A: alice and carol signed in; bob is half-way through a sign-in (at the IdP).
      const alice = new TestBrowser();
      const carol = new TestBrowser();
      assert.equal((await login(s, alice, { user: 'alice' })).at(-1)!.status, 200);
      assert.equal((await login(s, carol, { user: 'carol' })).at(-1)!.status, 200);
      const aliceToken = accessTokenOf(await api(s, alice, '/before'));
      assert.match(aliceToken ?? '', /^ey/);
      const bob = new TestBrowser();
      const started = await bob.request(`${s.url}/bob-was-here`);
      assert.equal(started.status, 302);
      assert.ok(started.location?.startsWith(`${s.idp.issuer}/authorize`), started.location);
      assert.ok(bob.cookie(s.url, 'gatehouse_login'), 'the login cookie, signed with A');

      // Rotate: B signs, A still verifies.
      const plan = s.gw.reload(config(s, SECRET_B, [SECRET_A]));
      assert.deepEqual(plan.applied, ['session.previousSecrets', 'session.secret']);
      assert.deepEqual(plan.needsRestart, []);
      const line = s.logs.find((l) => String(l.msg).startsWith('configuration reloaded: applied'));
      assert.match(String(line?.msg), /applied session\.previousSecrets, session\.secret/);
      assert.ok(!JSON.stringify(s.logs).includes(SECRET_B), 'the secret itself is never logged');

      // alice's cookie, record and sealed tokens (made under A) still work: same user, same token.
      const kept = await api(s, alice, '/after-rotation');
      assert.equal(kept.status, 200);
      assert.equal(userOf(kept), 'alice');
      assert.equal(accessTokenOf(kept), aliceToken, 'the tokens sealed under A still open');
      assert.equal((await api(s, carol, '/after-rotation')).status, 200);

      // bob's sign-in, started under A, completes; his new session works.
      const finished = await bob.follow(as('bob', started.location!));
      assert.equal(
        finished.at(-1)!.status,
        200,
        finished.map((h) => `${h.status} ${h.location}`).join(' → '),
      );
      assert.equal(userOf(finished.at(-1)!), 'bob');
      assert.match(finished.at(-1)!.json<{ url: string }>().url, /^\/bob-was-here/);

      // A sign-in after the rotation gets a cookie that works.
      // (alice again, in another browser: a second session of hers, begun under B)
      const fresh = new TestBrowser();
      assert.equal((await login(s, fresh, { user: 'alice' })).at(-1)!.status, 200);
      assert.equal(userOf(await api(s, fresh, '/')), 'alice');

      // alice's access token expires: the refresh opens her refresh token (sealed under A) and
      // writes the renewed record under B.
      const grants = s.idp.stats().grants.refresh_token;
      clock.advance(301_000); // past the dev IdP's 300 s access tokens
      const renewed = await api(s, alice, '/after-refresh');
      assert.equal(renewed.status, 200);
      assert.equal(userOf(renewed), 'alice');
      assert.equal(s.idp.stats().grants.refresh_token, grants + 1, 'one refresh grant');
      assert.notEqual(accessTokenOf(renewed), aliceToken, 'the renewed access token is forwarded');
      const aliceKey = s.gw.engine.ctx.sessions.codec.open(alice.cookie(s.url, 'gatehouse'))!;
      const stored = JSON.parse(JSON.stringify(await s.gw.store.get(aliceKey))) as SessionRecord;
      assert.equal(new RecordMac([SECRET_B]).verify(aliceKey, stored), undefined, 'MAC under B');
      assert.equal(new RecordMac([SECRET_A]).verify(aliceKey, stored), 'unknown_key', 'not under A');

      // Drop A: what was made under A is no session (cookie refused, cleared); nothing is a 500.
      const dropped = s.gw.reload(config(s, SECRET_B, []));
      assert.deepEqual(dropped.applied, ['session.previousSecrets']);
      const refused = await api(s, carol, '/after-drop');
      assert.equal(refused.status, 401, refused.body);
      assert.equal(carol.cookie(s.url, 'gatehouse'), undefined, 'the A cookie is cleared');
      const navigate = new TestBrowser();
      navigate.cookies(new URL(s.url).host).set('gatehouse', alice.cookie(s.url, 'gatehouse')!);
      const toLogin = await navigate.request(`${s.url}/after-drop`);
      assert.equal(toLogin.status, 302, 'a navigation with an A cookie is sent to sign in');
      assert.ok(toLogin.location?.startsWith(`${s.idp.issuer}/authorize`), toLogin.location);
      // ...and signs in again as usual.
      assert.equal((await login(s, carol, { user: 'carol' })).at(-1)!.status, 200);
      assert.equal(userOf(await api(s, carol, '/again')), 'carol');

      // Sessions made under B are untouched by dropping A.
      for (const [who, b] of [
        ['bob', bob],
        ['alice', fresh],
      ] as const) {
        const r = await api(s, b, '/after-drop');
        assert.equal(r.status, 200, who);
        assert.equal(userOf(r), who);
        assert.match(accessTokenOf(r) ?? '', /^ey/, `${who}'s tokens open under B`);
      }
      assert.ok(!s.logs.some((l) => l.msg === 'unexpected error'), 'no 500 anywhere');
    } finally {
      await s.close();
    }
  });

  it('gatehouse serve: SIGHUP rotates the secrets from files; the old cookie works, then is refused once its secret is gone', async () => {
    const idp = await startTestIdp();
    const upstream = await startEchoUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rotate-'));
    let child: ChildProcessWithoutNullStreams | undefined;
    try {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const file = join(dir, 'gatehouse.yaml');
      const secretFile = (name: string, value: string) => {
        const path = join(dir, name);
        writeFileSync(path, `${value}\n`);
        return `file:${path}`;
      };
      const a = secretFile('a', SECRET_A);
      const b = secretFile('b', SECRET_B);
      const write = (secret: string, previousSecrets: string[]) =>
        writeFileSync(
          file,
          stringify({
            listen: `127.0.0.1:${port}`,
            publicUrl: base,
            upstream: upstream.url,
            provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
            session: { secret, previousSecrets },
          }),
        );
      write(a, []);
      child = spawnCli(['serve', '--config', file]);
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      await until(
        () => stderr.includes('gatehouse listening on') && stdout.includes('OIDC provider discovered'),
        `the gateway to listen and discover: ${stderr}`,
        30_000,
      );
      const alice = new TestBrowser();
      assert.equal((await alice.follow(`${base}/`)).at(-1)!.status, 200);

      write(b, [a]);
      child.kill('SIGHUP');
      await until(
        () =>
          /SIGHUP: configuration reloaded \(applied: session\.previousSecrets, session\.secret\)/.test(
            stderr,
          ),
        `the reload: ${stderr}`,
      );
      const kept = await alice.request(`${base}/kept`, { kind: 'api' });
      assert.equal(kept.status, 200, 'the cookie made under A still works');
      assert.equal(userOf(kept), 'alice');
      const bob = new TestBrowser();
      assert.equal((await bob.follow(`${base}/`)).at(-1)!.status, 200, 'a sign-in under B');

      write(b, []);
      child.kill('SIGHUP');
      await until(
        () => /SIGHUP: configuration reloaded \(applied: session\.previousSecrets\)/.test(stderr),
        `the second reload: ${stderr}`,
      );
      assert.equal((await alice.request(`${base}/gone`, { kind: 'api' })).status, 401);
      assert.equal((await bob.request(`${base}/stays`, { kind: 'api' })).status, 200);
      for (const secret of [SECRET_A, SECRET_B])
        assert.ok(!(stderr + stdout).includes(secret), 'no secret in the output');
    } finally {
      child?.kill('SIGKILL');
      await upstream.close();
      await idp.stop();
    }
  });
});
