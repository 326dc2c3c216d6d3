import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { DEFAULT_USERS, type DevIdp, type DevIdpOptions } from '../../src/devidp/index.js';
import { TestBrowser } from '../helpers/browser.js';
import { startTestIdp } from '../helpers/devIdp.js';
import { login, startStack } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

/** A plain loopback HTTP server that counts what reached it. */
async function service(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen = { requests: 0, bearer: 0, closed: 0 };
  const server = createServer((req, res) => {
    seen.requests++;
    if (req.headers.authorization) seen.bearer++;
    res.on('close', () => {
      seen.closed++;
    });
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    seen,
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

type Result = { status: number; groups: string[]; logs: Array<Record<string, unknown>> };

/**
 * Logs alice in under azure-group-overage (her groups only at the claim source) with the rule
 * /admin → [admins]; returns the final status on /admin/x, the groups Gatehouse kept, the logs.
 */
async function overageLogin(idp: DevIdp, provider: Record<string, unknown> = {}): Promise<Result> {
  const s = await startStack({
    idpInstance: idp,
    config: {
      provider: { timeoutSeconds: 20, ...provider },
      authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
    } as never,
  });
  try {
    const b = new TestBrowser();
    const hops = await login(s, b, { path: '/admin/x', user: 'alice' });
    const info = await b.request(`${s.url}/oauth2/userinfo`, { kind: 'api' });
    assert.equal(info.status, 200, 'the login itself succeeded');
    return { status: hops.at(-1)!.status, groups: info.json<{ groups: string[] }>().groups, logs: s.logs };
  } finally {
    await s.close();
  }
}

async function overageIdp(opts: DevIdpOptions = {}): Promise<DevIdp> {
  return startTestIdp({ profiles: ['azure-group-overage'], ...opts });
}

function refusal(r: Result, reason: RegExp): Record<string, unknown> {
  const line = r.logs.find((l) => /distributed claim source refused/.test(String(l.msg)));
  assert.ok(line, 'the refusal is logged');
  assert.equal(line.level, 40, 'at warn');
  assert.match(String(line.reason), reason);
  assert.ok(!r.logs.some((l) => /Bearer|eyJ/.test(JSON.stringify(l))), 'no token in any log line');
  return line;
}

describe('distributed claim sources (_claim_sources) are fetched safely', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('the issuer as source: a JWT signed with its key is accepted', async () => {
    const idp = await overageIdp();
    cleanups.push(() => idp.stop());
    const r = await overageLogin(idp);
    assert.equal(r.status, 200);
    assert.deepEqual(r.groups, ['admins', 'dev']);
  });

  it('a host outside provider.claimSourceHosts is never asked: signed in without the groups, denied by group rules', async () => {
    const elsewhere = await service((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ groups: ['admins'] }));
    });
    cleanups.push(elsewhere.close);
    const idp = await overageIdp({ claimSourceEndpoint: `${elsewhere.url}/groups/{sub}` });
    cleanups.push(() => idp.stop());
    const r = await overageLogin(idp);
    assert.equal(r.status, 403, 'fails closed');
    assert.deepEqual(r.groups, []);
    assert.equal(elsewhere.seen.requests, 0, 'the host got no request (and no access token)');
    refusal(r, /is not in provider\.claimSourceHosts/);
  });

  it('claimSourceHosts replaces the default: the issuer itself is then refused', async () => {
    const idp = await overageIdp();
    cleanups.push(() => idp.stop());
    const r = await overageLogin(idp, { claimSourceHosts: ['graph.microsoft.com'] });
    assert.equal(r.status, 403);
    assert.deepEqual(r.groups, []);
    refusal(r, /is not in provider\.claimSourceHosts/);
  });

  it('a redirect is not followed: the loopback-only service behind it gets no request', async () => {
    const internal = await service((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ groups: ['admins'] }));
    });
    cleanups.push(internal.close);
    const redirector = await service((_req, res) => {
      res.writeHead(302, { location: `${internal.url}/secret` });
      res.end();
    });
    cleanups.push(redirector.close);
    const idp = await overageIdp({ claimSourceEndpoint: `${redirector.url}/groups/{sub}` });
    cleanups.push(() => idp.stop());
    const r = await overageLogin(idp, { claimSourceHosts: [redirector.host, internal.host] });
    assert.equal(redirector.seen.requests, 1);
    assert.equal(internal.seen.requests, 0, 'the redirect target was never contacted');
    assert.equal(r.status, 403);
    assert.deepEqual(r.groups, []);
    refusal(r, /redirect \(HTTP 302\)/);
  });

  it('an answer over 1 MiB is refused: a correctly signed 2 MiB JWT from the issuer', async () => {
    // alice in 40 000 groups: her claim source answers ~2.2 MB, signed by the IdP.
    const many = Array.from(
      { length: 40_000 },
      (_, i) => `group-${String(i).padStart(5, '0')}-long-team-name-padding-xx`,
    );
    const alice = { ...DEFAULT_USERS[0]!, groups: ['admins', ...many] };
    const idp = await overageIdp({ users: [alice, ...DEFAULT_USERS.slice(1)] });
    cleanups.push(() => idp.stop());
    const r = await overageLogin(idp);
    assert.equal(r.status, 403);
    assert.deepEqual(r.groups, []);
    refusal(r, /more than 1048576 bytes/);
  });

  it('an endless answer is cut at 1 MiB, well before the provider timeout', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const endless = await service((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/jwt' });
      const pump = () => {
        while (res.write(chunk)) {
          /* fill the socket */
        }
      };
      res.on('drain', pump);
      pump();
    });
    cleanups.push(endless.close);
    const idp = await overageIdp({ claimSourceEndpoint: `${endless.url}/groups/{sub}` });
    cleanups.push(() => idp.stop());
    const started = Date.now();
    const r = await overageLogin(idp, { claimSourceHosts: [endless.host] });
    assert.ok(Date.now() - started < 15_000, 'not held until the 20 s provider timeout');
    assert.equal(r.status, 403);
    refusal(r, /more than 1048576 bytes/);
    await until(() => endless.seen.closed === 1, 'the gateway dropped the connection');
  });

  it('a JWT signed with another key is refused', async () => {
    let kid = '';
    const { privateKey } = await generateKeyPair('RS256');
    const forger = await service((_req, res) => {
      void new SignJWT({ sub: 'usr_alice', groups: ['admins'] })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey)
        .then((jwt) => {
          res.writeHead(200, { 'content-type': 'application/jwt' });
          res.end(jwt);
        });
    });
    cleanups.push(forger.close);
    const idp = await overageIdp({ claimSourceEndpoint: `${forger.url}/groups/{sub}` });
    cleanups.push(() => idp.stop());
    // Claim the IdP's own current key id: only the signature can tell.
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as {
      keys: Array<{ kid: string; alg: string }>;
    };
    kid = jwks.keys.find((k) => k.alg === 'RS256')!.kid;
    const r = await overageLogin(idp, { claimSourceHosts: [forger.host] });
    assert.equal(forger.seen.requests, 1);
    assert.equal(r.status, 403);
    assert.deepEqual(r.groups, []);
    refusal(r, /JWT that does not verify/);
  });

  it('unsigned JSON is refused from any host but graph.microsoft.com', async () => {
    const plain = await service((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ groups: ['admins'], value: ['admins'] }));
    });
    cleanups.push(plain.close);
    const idp = await overageIdp({ claimSourceEndpoint: `${plain.url}/groups/{sub}` });
    cleanups.push(() => idp.stop());
    const r = await overageLogin(idp, { claimSourceHosts: [plain.host] });
    assert.equal(plain.seen.bearer, 1, 'an allowed host was asked, with the token');
    assert.equal(r.status, 403);
    assert.deepEqual(r.groups, []);
    refusal(r, /unsigned content/);
  });
});
