import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Provider from 'oidc-provider';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { type Reply, TestBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { walkOpLogin } from '../helpers/oidcProviderLogin.js';
import { freePort, type GatewayUnderTest, type StackConfig, startGateway } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from '../redis/helpers.js';

/**
 * Dynamic Client Registration (RFC 7591, issue 10 item 6) against `oidc-provider` from npm with
 * `features.registration` and an initial access token: Gatehouse registers itself at start, logs
 * users in with that client, and a restart reuses the registration from `storeFile`.
 */
const INITIAL_ACCESS_TOKEN = 'initial-access-token-for-gatehouse-tests';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('interop: Dynamic Client Registration at oidc-provider', () => {
  let op: Server;
  let opUrl: string;
  let upstream: EchoUpstream;
  let dir: string;
  const registrations: Array<Record<string, unknown>> = [];
  const gateways: GatewayUnderTest[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-dcr-'));
    op = createServer();
    opUrl = `http://127.0.0.1:${await listen(op)}`;
    const provider = new Provider(opUrl, {
      features: {
        devInteractions: { enabled: true },
        registration: { enabled: true, initialAccessToken: INITIAL_ACCESS_TOKEN },
        backchannelLogout: { enabled: true },
      },
      pkce: { required: () => true },
      scopes: ['openid', 'offline_access', 'email', 'profile'],
      claims: { email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
      cookies: { keys: ['dcr-cookie-key-0123456789'] },
      findAccount: async (_ctx: unknown, sub: string) => ({
        accountId: sub,
        claims: async () => ({
          sub,
          email: `${sub}@dcr.example`,
          email_verified: true,
          preferred_username: sub,
        }),
      }),
    } as never);
    provider.on(
      'registration_create.success',
      (_ctx: unknown, client: { metadata(): Record<string, unknown> }) =>
        registrations.push(client.metadata()),
    );
    op.on('request', provider.callback());
    upstream = await startEchoUpstream();
  });

  after(async () => {
    for (const g of gateways) await g.close();
    await upstream.close();
    await new Promise<void>((r) => {
      op.close(() => r());
      op.closeAllConnections();
    });
    rmSync(dir, { recursive: true, force: true });
  });

  async function gateway(
    registration: Record<string, unknown>,
    port?: number,
    session: Record<string, unknown> = {},
  ): Promise<GatewayUnderTest> {
    const g = await startGateway({
      issuer: opUrl,
      upstream: upstream.url,
      ...(port ? { port } : {}),
      config: {
        provider: { clientId: undefined, clientSecret: undefined, registration, useUserinfo: true },
        session,
        logging: { level: 'info' },
      } as StackConfig,
    });
    gateways.push(g);
    return g;
  }

  /** `publicUrl`: where the OP sends the browser back; rewritten to `gwUrl` (a load balancer's choice). */
  async function loginThroughOp(b: TestBrowser, gwUrl: string, publicUrl = gwUrl): Promise<Reply> {
    const rewrite = (u: string) => (u.startsWith(publicUrl) ? gwUrl + u.slice(publicUrl.length) : u);
    return (await walkOpLogin({ browser: b, startUrl: `${gwUrl}/dcr`, opUrl, user: 'dcr-user', rewrite }))
      .reply;
  }

  it('registers at start (metadata from publicUrl), logs a user in, and a restart reuses the registration', async () => {
    const storeFile = join(dir, 'client.json');
    const port = await freePort();
    const first = await gateway({ initialAccessToken: INITIAL_ACCESS_TOKEN, storeFile }, port);
    assert.equal(registrations.length, 1);
    const m = registrations[0]!;
    assert.deepEqual(m.redirect_uris, [`${first.url}/oauth2/callback`]);
    assert.deepEqual(m.post_logout_redirect_uris, [`${first.url}/oauth2/signed-out`]);
    assert.equal(m.backchannel_logout_uri, `${first.url}/oauth2/backchannel-logout`);
    assert.equal(m.token_endpoint_auth_method, 'client_secret_basic');
    assert.deepEqual(m.grant_types, ['authorization_code', 'refresh_token']);
    const r = await loginThroughOp(new TestBrowser(), first.url);
    assert.equal(r.status, 200, r.body.slice(0, 300));
    assert.equal(r.json<{ headers: Record<string, string> }>().headers['x-forwarded-user'], 'dcr-user');
    // The store file: owner-only, the secret sealed (never in clear).
    assert.equal(statSync(storeFile).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(storeFile, 'utf8')) as Record<string, string>;
    assert.equal(stored.clientId, m.client_id);
    assert.notEqual(stored.clientSecret, m.client_secret);
    assert.ok(
      !readFileSync(storeFile, 'utf8').includes(String(m.client_secret)),
      'no plain secret in the file',
    );
    await first.close();
    // A restart on the same publicUrl: no new registration, and the same client logs users in.
    const second = await gateway({ initialAccessToken: INITIAL_ACCESS_TOKEN, storeFile }, port);
    assert.equal(registrations.length, 1, 'reused, not registered again');
    assert.ok(
      second.logs.some(
        (l) => l.msg === 'client registration: reusing the registered client' && l.clientId === m.client_id,
      ),
    );
    assert.equal((await loginThroughOp(new TestBrowser(), second.url)).status, 200);
    await second.close();
    // Another publicUrl (port): the stored redirect URIs no longer match, so it registers again.
    const third = await gateway({ initialAccessToken: INITIAL_ACCESS_TOKEN, storeFile });
    assert.equal(registrations.length, 2);
    assert.deepEqual(registrations[1]!.redirect_uris, [`${third.url}/oauth2/callback`]);
    assert.equal((await loginThroughOp(new TestBrowser(), third.url)).status, 200);
  });

  it('two replicas on Redis starting together: exactly one registers; both log users in with that client', async () => {
    const redis = await requireRedis();
    const prefix = uniquePrefix('dcr');
    try {
      const before = registrations.length;
      const publicUrl = `http://127.0.0.1:${await freePort()}`; // the load balancer's address
      const replica = async () => {
        const g = await startGateway({
          issuer: opUrl,
          upstream: upstream.url,
          publicUrl,
          config: {
            provider: {
              clientId: undefined,
              clientSecret: undefined,
              registration: { initialAccessToken: INITIAL_ACCESS_TOKEN },
              useUserinfo: true,
            },
            session: { store: 'redis', redisUrl: REDIS_URL, redisKeyPrefix: prefix },
            logging: { level: 'info' },
          } as StackConfig,
        });
        gateways.push(g);
        return g;
      };
      const [a, b] = await Promise.all([replica(), replica()]);
      assert.equal(registrations.length - before, 1, 'exactly one registration');
      const clientId = registrations.at(-1)!.client_id;
      for (const g of [a, b]) {
        const line = g.logs.find((l) => String(l.msg).startsWith('client registration: re'));
        assert.equal(line?.clientId, clientId, `${g.url} uses the one registered client`);
      }
      // Each replica completes a login on its own (the load balancer sends the whole flow to it).
      for (const g of [a, b]) {
        const r = await loginThroughOp(new TestBrowser(), g.url, publicUrl);
        assert.equal(r.status, 200, r.body.slice(0, 300));
        assert.equal(r.json<{ headers: Record<string, string> }>().headers['x-forwarded-user'], 'dcr-user');
      }
      // The secret is sealed in Redis, never in clear.
      const stored = await redis.get(`${prefix}shared:{client-registration}`);
      assert.ok(stored?.includes(String(clientId)));
      assert.ok(!stored?.includes(String(registrations.at(-1)!.client_secret)));
      // A restarted replica reuses it.
      await a.close();
      const c = await replica();
      assert.equal(registrations.length - before, 1);
      assert.equal((await loginThroughOp(new TestBrowser(), c.url, publicUrl)).status, 200);
    } finally {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it("a wrong initial access token fails the start with the provider's error text (ConfigError: exit 78)", async () => {
    const before = registrations.length;
    await assert.rejects(
      gateway({ initialAccessToken: 'not-the-token', storeFile: join(dir, 'bad.json') }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(
          err.message,
          /provider\.registration: the provider refused the registration \(HTTP 401\): invalid_token/,
        );
        return true;
      },
    );
    assert.equal(registrations.length, before);
  });
  it("gatehouse serve exits 78 with the provider's error text when the registration is refused", async () => {
    const file = join(dir, 'refused.yaml');
    writeFileSync(
      file,
      [
        `publicUrl: http://127.0.0.1:${await freePort()}`,
        'listen: 127.0.0.1:0',
        `upstream: ${upstream.url}`,
        'provider:',
        `  issuer: ${opUrl}`,
        '  registration:',
        '    initialAccessToken: wrong-token',
        'session:',
        `  secret: ${'s'.repeat(40)}`,
      ].join('\n'),
    );
    const { code, stderr } = await runCli(['serve', '--config', file]);
    assert.equal(code, 78, stderr);
    assert.match(
      stderr,
      /provider\.registration: the provider refused the registration \(HTTP 401\): invalid_token/,
    );
  });
});

describe('config: a client or a registration', () => {
  const base = { publicUrl: 'http://127.0.0.1:4180', session: { secret: 'x'.repeat(40) } };
  it('neither clientId nor registration: refused, naming the keys and the alternative', () => {
    assert.throws(
      () => loadConfig({ object: { ...base, provider: { issuer: 'http://127.0.0.1:1' } }, env: {} }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(
          err.message,
          /provider\.clientId: is required, unless provider\.registration .*\(config key provider\.clientId, or env GATEHOUSE_PROVIDER_CLIENT_ID\)/,
        );
        return true;
      },
    );
  });
  it('registration together with clientId: refused', () => {
    assert.throws(
      () =>
        loadConfig({
          object: {
            ...base,
            provider: { issuer: 'http://127.0.0.1:1', clientId: 'a', clientSecret: 'b', registration: {} },
          },
          env: {},
        }),
      /provider\.registration: cannot be combined with provider\.clientId/,
    );
  });
  it('registration alone loads', () => {
    const cfg = loadConfig({
      object: {
        ...base,
        provider: { issuer: 'http://127.0.0.1:1', registration: { storeFile: '/tmp/x.json' } },
      },
      env: {},
    });
    assert.equal(cfg.provider.clientId, undefined);
  });
});
