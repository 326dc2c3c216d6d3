import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { GraphGroups, MAX_GROUPS, MAX_PAGES } from '../../src/oidc/entra/graphGroups.js';
import { GatehouseError } from '../../src/util/errors.js';
import { createLogger } from '../../src/util/log.js';
import { jsonLogSink } from '../helpers/logSink.js';

/** A loopback stand-in for Microsoft Graph whose answers each test chooses. */
describe('GraphGroups (Entra group overage from Microsoft Graph)', () => {
  let server: Server;
  let origin = '';
  let seen: string[] = [];
  let answer: (req: IncomingMessage, res: ServerResponse) => void = (_q, r) => r.end();
  before(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization}`);
      answer(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  function graph(groupNames: 'id' | 'displayName' = 'id') {
    const logs: Array<Record<string, unknown>> = [];
    const g = new GraphGroups({
      graphUrl: `${origin}/`,
      groupNames,
      groupsClaim: 'groups',
      timeoutMs: 2000,
      run: (fn) => fn(),
      logger: createLogger('debug', jsonLogSink(logs)),
      fetch,
    });
    seen = [];
    return { g, logs };
  }

  const json = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const group = (i: number) => ({
    '@odata.type': '#microsoft.graph.group',
    id: `id-${i}`,
    displayName: `g${i}`,
  });

  test('no overage: Graph is not called and the claims are as they came', async () => {
    const { g } = graph();
    const claims = { sub: 's', groups: ['a'] };
    assert.equal(await g.resolve(claims, 'at', 'login'), claims);
    assert.deepEqual(seen, []);
  });

  test('hasgroups: true reads Graph with the access token; the overage pointers are dropped', async () => {
    const { g } = graph('displayName');
    answer = (_q, res) =>
      json(res, 200, {
        value: [group(1), { '@odata.type': '#microsoft.graph.administrativeUnit', id: 'au' }],
      });
    const out = await g.resolve({ sub: 's', hasgroups: true }, 'the-access-token', 'login');
    assert.deepEqual(out.groups, ['g1']);
    assert.equal(out.hasgroups, true);
    assert.deepEqual(seen, ['/v1.0/me/transitiveMemberOf?$select=id,displayName Bearer the-access-token']);
  });

  test(`stops after ${MAX_PAGES} pages, keeps what it read (at most ${MAX_GROUPS}) and logs the cut`, async () => {
    const { g, logs } = graph();
    let n = 0;
    answer = (_q, res) => {
      const page = Array.from({ length: 150 }, () => group(n++));
      json(res, 200, {
        value: page,
        '@odata.nextLink': `${origin}/v1.0/me/transitiveMemberOf?$skiptoken=${n}`,
      });
    };
    const out = await g.resolve({ sub: 's', _claim_names: { groups: 'src1' } }, 'at', 'refresh');
    assert.equal(seen.length, 7, 'the 7th page passes 1000 groups: no 8th is asked');
    assert.equal((out.groups as string[]).length, MAX_GROUPS);
    assert.ok(logs.some((l) => /more groups than Gatehouse reads/.test(String(l.msg)) && l.level === 40));
  });

  test('an @odata.nextLink to another origin is not followed (it would get the token)', async () => {
    const { g } = graph();
    answer = (_q, res) =>
      json(res, 200, { value: [group(1)], '@odata.nextLink': 'https://evil.example/steal' });
    await assert.rejects(g.resolve({ sub: 's', hasgroups: true }, 'at', 'login'), (err: GatehouseError) => {
      assert.ok(err instanceof GatehouseError);
      assert.equal(err.status, 502);
      assert.match(err.publicReason, /another origin/);
      return true;
    });
    assert.equal(seen.length, 1);
  });

  test('403 names the permission to grant; a redirect is refused, not followed', async () => {
    const { g, logs } = graph();
    answer = (_q, res) => json(res, 403, { error: { code: 'Authorization_RequestDenied' } });
    await assert.rejects(g.resolve({ sub: 's', hasgroups: true }, 'at', 'login'), /GroupMember\.Read\.All/);
    assert.ok(!logs.some((l) => JSON.stringify(l).includes('Bearer')), 'no token in the logs');
    answer = (_q, res) => res.writeHead(302, { location: `${origin}/elsewhere` }).end();
    await assert.rejects(g.resolve({ sub: 's', hasgroups: true }, 'at', 'login'), /HTTP 302/);
    assert.ok(!seen.some((s) => s.startsWith('/elsewhere')));
  });
});
