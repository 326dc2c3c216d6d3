import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { judgeClockSkew } from '../../src/doctor/clockSkew.js';
import { configChecks, looksHandMade } from '../../src/doctor/configChecks.js';
import { checkLine, jsonReport } from '../../src/doctor/printer.js';
import { expectedIdTokenAlg, type ProviderMetadata } from '../../src/doctor/providerChecks.js';
import { refreshReadiness } from '../../src/doctor/refreshReadiness.js';
import { judgeEvictionPolicy, parseInfo, quantile } from '../../src/doctor/storeChecks.js';
import { presetNamed } from '../../src/oidc/presets/index.js';

const SECRET = 'q8Xv2LmN0pRsT4uWyZa1Bc3De5Fg7Hi9JkQ+/oP6rS8tU0vW2xY4zA6bC8dE0fG2';

function config(over: Record<string, unknown> = {}) {
  const { provider, ...rest } = over as { provider?: Record<string, unknown> };
  return loadConfig({
    env: {},
    object: {
      publicUrl: 'https://auth.example.com',
      provider: {
        issuer: 'https://idp.example.com',
        clientId: 'c',
        clientSecret: 'issued-by-the-idp-123',
        ...provider,
      },
      session: { secret: SECRET },
      ...rest,
    },
  });
}

/** The Date header as a provider `offsetMs` ahead of us would send it, for a round trip at `now`. */
function reading(offsetMs: number, now = Date.UTC(2030, 0, 1, 12, 0, 0, 0), rttMs = 40) {
  const providerNow = now + offsetMs;
  return {
    date: new Date(Math.floor(providerNow / 1000) * 1000).toUTCString(),
    sentAt: now - rttMs / 2,
    receivedAt: now + rttMs / 2,
  };
}

describe('doctor: clock skew judgement (the dev IdP cannot skew its Date header, so judged here)', () => {
  test('in step: PASS', () => {
    assert.equal(judgeClockSkew(reading(300), 30).status, 'PASS');
    assert.equal(judgeClockSkew(reading(-900), 30).status, 'PASS');
  });
  test('beyond 5 s but within the tolerance: WARN', () => {
    const r = judgeClockSkew(reading(8_000), 30);
    assert.equal(r.status, 'WARN');
    assert.match(r.finding, /about 8\.\d s ahead of ours/);
  });
  test('beyond provider.clockToleranceSeconds: FAIL, either side', () => {
    for (const off of [45_000, -45_000]) {
      const r = judgeClockSkew(reading(off), 30);
      assert.equal(r.status, 'FAIL', String(off));
      assert.match(r.finding, /more than provider\.clockToleranceSeconds \(30 s\)/);
      assert.match(r.fix ?? '', /NTP/);
    }
  });
  test('a tolerance below 5 s FAILs before it WARNs', () => {
    assert.equal(judgeClockSkew(reading(4_000), 2).status, 'FAIL');
  });
  test('the one-second resolution of Date never raises an alarm on its own', () => {
    // A provider exactly 5.9 s ahead cannot be told from 5.0 s: not a WARN.
    assert.equal(judgeClockSkew(reading(5_400), 30).status, 'PASS');
  });
  test('no usable Date header: WARN', () => {
    assert.equal(judgeClockSkew(undefined, 30).status, 'WARN');
    assert.equal(judgeClockSkew({ date: 'yesterday', sentAt: 0, receivedAt: 1 }, 30).status, 'WARN');
  });
});

describe('doctor: configuration checks', () => {
  test('hand-made secrets are recognised, generated ones are not', () => {
    assert.ok(looksHandMade('test-secret-test-secret-test-secret-0123456789'));
    assert.ok(looksHandMade('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'));
    assert.ok(!looksHandMade(SECRET));
  });
  test('https publicUrl: the __Host- cookies with Secure', () => {
    const line = configChecks(config(), 'x').find((c) => c.check === 'config.publicUrl');
    assert.equal(line?.status, 'PASS');
    assert.match(line?.finding ?? '', /__Host-gatehouse.*Secure/);
  });
  test('plain http off loopback: FAIL (the cookie travels in clear)', () => {
    const line = configChecks(config({ publicUrl: 'http://auth.example.com' }), 'x').find(
      (c) => c.check === 'config.publicUrl',
    );
    assert.equal(line?.status, 'FAIL');
  });
  test('memory store off loopback: WARN about replicas', () => {
    const line = configChecks(config(), 'x').find((c) => c.check === 'config.session.store');
    assert.equal(line?.status, 'WARN');
  });
  test('no line names a secret', () => {
    const text = configChecks(config(), 'x').map(checkLine).join('\n');
    assert.ok(!text.includes(SECRET) && !text.includes('issued-by-the-idp-123'));
  });
});

describe('doctor: provider and refresh judgements', () => {
  test('the ID token algorithm, as the gateway picks it', () => {
    assert.equal(expectedIdTokenAlg([], ['ES256']), 'RS256');
    assert.equal(expectedIdTokenAlg(['PS256', 'ES256'], ['RS256', 'ES256']), 'ES256');
    assert.equal(expectedIdTokenAlg(['PS256'], ['RS256']), undefined);
  });

  const meta = (over: Partial<ProviderMetadata> = {}): ProviderMetadata => ({
    issuer: 'https://idp.example.com',
    scopes_supported: ['openid', 'email'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    ...over,
  });
  const offline = (cfg: ReturnType<typeof config>, m: ProviderMetadata) =>
    refreshReadiness(cfg, presetNamed(cfg.provider.preset), m).find(
      (c) => c.check === 'refresh.offline-access',
    );

  test('cognito: no offline_access listed, and its provider issues refresh tokens anyway: PASS', () => {
    assert.equal(offline(config({ provider: { preset: 'cognito' } }), meta())?.status, 'PASS');
  });
  test('requestOfflineAccess: false: WARN', () => {
    assert.equal(offline(config({ provider: { requestOfflineAccess: false } }), meta())?.status, 'WARN');
  });
  test('access_type=offline by hand without prompt=consent: WARN', () => {
    const cfg = config({ provider: { authorizationParams: { access_type: 'offline' } } });
    assert.equal(offline(cfg, meta())?.status, 'WARN');
  });
  test('grant_types_supported without refresh_token: FAIL', () => {
    const r = refreshReadiness(
      config(),
      presetNamed('generic'),
      meta({ grant_types_supported: ['authorization_code'] }),
    );
    assert.equal(r.find((c) => c.check === 'refresh.grant-type')?.status, 'FAIL');
  });
});

describe('doctor: store judgements', () => {
  test('maxmemory-policy: noeviction PASS, every other policy WARN', () => {
    assert.equal(judgeEvictionPolicy('noeviction', '0').status, 'PASS');
    for (const p of ['allkeys-lru', 'volatile-lru', 'volatile-ttl', 'allkeys-random']) {
      assert.equal(judgeEvictionPolicy(p, '1000000').status, 'WARN', p);
    }
  });
  test('INFO parsing and quantiles', () => {
    const info = parseInfo(
      '# Server\r\nredis_version:7.2.4\r\nredis_mode:standalone\r\n\r\n# Memory\r\nmaxmemory_policy:noeviction\r\n',
    );
    assert.equal(info.get('redis_version'), '7.2.4');
    assert.equal(info.get('maxmemory_policy'), 'noeviction');
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(quantile(xs, 0.5), 50);
    assert.equal(quantile(xs, 0.99), 99);
  });
  test('--json: fix is null on PASS', () => {
    const doc = JSON.parse(jsonReport([judgeEvictionPolicy('noeviction', '0')])) as {
      checks: Array<{ fix: unknown }>;
    };
    assert.equal(doc.checks[0]?.fix, null);
  });
});
