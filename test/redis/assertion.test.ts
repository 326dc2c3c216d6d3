import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describeHops, loginThrough } from '../helpers/dcr.js';
import { useTestIdp } from '../helpers/devIdp.js';
import {
  freePort,
  type GatewayUnderTest,
  type StackConfig,
  startGateway,
  TestBrowser,
} from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from './helpers.js';

/**
 * X-Gatehouse-Assertion behind a load balancer (issue 13 part 4): replicas on one Redis that
 * start at the same moment generate one key between them, sealed in the store; an upstream that
 * fetched the JWKS from either replica verifies the assertions of both.
 */
describe('X-Gatehouse-Assertion: replicas on Redis share one generated key', () => {
  const idp = useTestIdp();
  let upstream: EchoUpstream;
  const gateways: GatewayUnderTest[] = [];
  before(async () => {
    upstream = await startEchoUpstream();
  });
  after(async () => {
    for (const g of gateways) await g.close();
    await upstream.close();
  });

  it('two replicas starting together publish the same key, and each one’s assertion verifies against the other’s JWKS and is reused for its session', async () => {
    const redis = await requireRedis();
    const prefix = uniquePrefix('assertion');
    try {
      const publicPort = await freePort();
      const publicUrl = `http://127.0.0.1:${publicPort}`;
      const replica = async (port?: number) => {
        const g = await startGateway({
          issuer: idp.issuer,
          upstream: upstream.url,
          publicUrl,
          ...(port === undefined ? {} : { port }),
          config: {
            // No L1 cache: every request reads a new record object from Redis.
            session: { store: 'redis', redisUrl: REDIS_URL, redisKeyPrefix: prefix, cacheTtlMs: 0 },
            headers: { assertion: true },
            logging: { level: 'info' },
          } as StackConfig,
        });
        gateways.push(g);
        return g;
      };
      const [a, b] = await Promise.all([replica(publicPort), replica()]);
      const jwksOf = async (g: GatewayUnderTest) => {
        const r = await fetch(`${g.url}/oauth2/jwks`);
        assert.equal(r.status, 200);
        return (await r.json()) as { keys: Array<{ kid: string }> };
      };
      const [ja, jb] = [await jwksOf(a), await jwksOf(b)];
      assert.equal(ja.keys.length, 1);
      assert.deepEqual(jb, ja, 'one key set');
      const generated = [...a.logs, ...b.logs].filter((l) =>
        String(l.msg).startsWith('assertion key: generated'),
      );
      assert.equal(generated.length, 1, 'exactly one replica generated the key');
      // Kept in Redis sealed: no private JWK member in the clear.
      const stored = await redis.get(`${prefix}shared:{assertion-key}`);
      assert.ok(stored);
      assert.doesNotMatch(stored, /"d"\s*:/);

      for (const [signer, other] of [
        [a, b],
        [b, a],
      ] as const) {
        const browser = new TestBrowser();
        const hops = await loginThrough(browser, signer.url, publicUrl);
        assert.equal(hops.at(-1)?.status, 200, describeHops(hops));
        const assertion = hops.at(-1)!.json<{ headers: Record<string, string> }>().headers[
          'x-gatehouse-assertion'
        ];
        assert.ok(assertion, 'the upstream got an assertion');
        assert.equal(decodeProtectedHeader(assertion).kid, ja.keys[0]!.kid);
        const jwks = createRemoteJWKSet(new URL(`${other.url}/oauth2/jwks`));
        const { payload } = await jwtVerify(assertion, jwks, { issuer: publicUrl, audience: 'default' });
        assert.equal(payload.sub, 'usr_alice');
        // The session's next request, its record read from Redis again: the same assertion, not signed again.
        const again = await browser.request(`${signer.url}/app`, { kind: 'api' });
        assert.equal(
          again.json<{ headers: Record<string, string> }>().headers['x-gatehouse-assertion'],
          assertion,
        );
      }

      // A replica started later reuses the stored key.
      const c = await replica();
      assert.deepEqual(await jwksOf(c), ja);
    } finally {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it('a session secret rotation keeps the key: a start under the new secret seals it again, so it outlives the old one', async () => {
    const redis = await requireRedis();
    const prefix = uniquePrefix('assertion-rotation');
    const [oldSecret, newSecret] = [
      'old-secret-old-secret-old-secret-0123456789',
      'new-secret-new-secret-new-secret-0123456789',
    ];
    const start = async (session: Record<string, unknown>) => {
      const g = await startGateway({
        issuer: idp.issuer,
        upstream: upstream.url,
        config: {
          session: { store: 'redis', redisUrl: REDIS_URL, redisKeyPrefix: prefix, ...session },
          headers: { assertion: true },
          logging: { level: 'info' },
        } as StackConfig,
      });
      const jwks = await (await fetch(`${g.url}/oauth2/jwks`)).json();
      const generated = g.logs.some((l) => String(l.msg).startsWith('assertion key: generated'));
      await g.close();
      return { jwks, generated };
    };
    try {
      const first = await start({ secret: oldSecret });
      assert.equal(first.generated, true);
      const rotated = await start({ secret: newSecret, previousSecrets: [oldSecret] });
      assert.deepEqual(rotated, { jwks: first.jwks, generated: false });
      // The old secret is gone: the key, sealed again at the last start, still opens.
      assert.deepEqual(await start({ secret: newSecret }), { jwks: first.jwks, generated: false });
    } finally {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });
});
