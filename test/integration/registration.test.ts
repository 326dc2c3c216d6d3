import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { authorizeClientId, describeHops, loginThrough } from '../helpers/dcr.js';
import { useTestIdp } from '../helpers/devIdp.js';
import {
  freePort,
  type GatewayUnderTest,
  type StackConfig,
  startGateway,
  TestBrowser,
} from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

/**
 * Dynamic Client Registration (RFC 7591, issue 10 item 6) against the dev IdP's POST /register:
 * a gateway with `provider.registration` and no clientId registers at start, logs users in with
 * that client, reuses it after a restart, and the dev IdP's back-channel logout reaches it at
 * the backchannel_logout_uri it registered.
 */
const TOKEN = 'dev-idp-initial-access-token';

describe('Dynamic Client Registration at the dev IdP', () => {
  const idp = useTestIdp({ registrationToken: TOKEN });
  let upstream: EchoUpstream;
  let dir: string;
  const gateways: GatewayUnderTest[] = [];

  before(async () => {
    upstream = await startEchoUpstream();
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-dcr-devidp-'));
  });
  after(async () => {
    for (const g of gateways) await g.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gateway(registration: Record<string, unknown>, port: number): Promise<GatewayUnderTest> {
    const g = await startGateway({
      issuer: idp.issuer,
      upstream: upstream.url,
      port,
      config: {
        provider: { clientId: undefined, clientSecret: undefined, registration },
        logging: { level: 'info' },
      } as StackConfig,
    });
    gateways.push(g);
    return g;
  }

  it('registers at start, logs users in with that client, a restart reuses it, back-channel logout reaches it', async () => {
    idp.reset();
    const storeFile = join(dir, 'client.json');
    const port = await freePort();
    const first = await gateway({ initialAccessToken: TOKEN, storeFile }, port);
    assert.equal(idp.stats().registrations, 1);
    const stored = JSON.parse(readFileSync(storeFile, 'utf8')) as { clientId: string; clientSecret: string };
    assert.match(stored.clientId, /^dcr-/);
    assert.equal(statSync(storeFile).mode & 0o777, 0o600);

    const b = new TestBrowser();
    const hops = await loginThrough(b, first.url);
    assert.equal(hops.at(-1)?.status, 200, describeHops(hops));
    assert.equal(authorizeClientId(idp, hops), stored.clientId, 'the registered client, not the default one');
    const seen = hops.at(-1)!.json<{ headers: Record<string, string> }>().headers;
    assert.equal(seen['x-forwarded-user'], 'alice');
    assert.equal(seen['x-forwarded-email'], 'alice@example.com');
    assert.equal(idp.stats().grants.authorization_code, 1);

    // The dev IdP tells the client this session was for, at the URI the gateway registered.
    assert.deepEqual(await idp.backchannelLogout({ sub: 'usr_alice' }), { delivered: true, status: 200 });
    assert.equal((await b.request(`${first.url}/app`, { kind: 'api' })).status, 401, 'session ended');
    await first.close();

    // A restart on the same publicUrl: the stored client, no second registration.
    const second = await gateway({ initialAccessToken: TOKEN, storeFile }, port);
    assert.equal(idp.stats().registrations, 1, 'reused, not registered again');
    assert.equal(idp.stats().requests.register, 1);
    assert.ok(
      second.logs.some(
        (l) =>
          l.msg === 'client registration: reusing the registered client' && l.clientId === stored.clientId,
      ),
    );
    const again = await loginThrough(new TestBrowser(), second.url);
    assert.equal(again.at(-1)?.status, 200);
    assert.equal(authorizeClientId(idp, again), stored.clientId);
  });

  it('a missing initial access token fails the start with the dev IdP’s error text', async () => {
    const before = idp.stats().registrations;
    await assert.rejects(
      gateway({ storeFile: join(dir, 'refused.json') }, await freePort()),
      (err: unknown) => {
        assert.match(
          String(err),
          /provider\.registration: the provider refused the registration \(HTTP 401\): invalid_token: an initial access token is required/,
        );
        return true;
      },
    );
    assert.equal(idp.stats().registrations, before);
  });
});
