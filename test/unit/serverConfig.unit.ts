import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { serverOptions } from '../../src/http/serverLimits.js';
import { configProblems } from '../helpers/config.js';

const base = () => ({
  publicUrl: 'http://127.0.0.1:4180',
  provider: { issuer: 'http://127.0.0.1:9000', clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
  session: { secret: 'a-session-secret-that-is-long-enough-0123456789' },
});

describe('config: server limits and metrics.listen', () => {
  test('defaults: 20 s headers, 300 s request, 65 s keep-alive, 10 000 connections, metrics off', () => {
    const cfg = loadConfig({ object: base(), env: {} });
    assert.equal(cfg.server.headersTimeoutSeconds, 20);
    assert.equal(cfg.server.requestTimeoutSeconds, 300);
    assert.equal(cfg.server.keepAliveTimeoutSeconds, 65);
    assert.equal(cfg.server.maxConnections, 10_000);
    assert.equal(cfg.metrics.listen, undefined);
    const o = serverOptions(cfg.server);
    assert.equal(o.headersTimeout, 20_000);
    assert.equal(o.requestTimeout, 300_000);
    assert.equal(o.keepAliveTimeout, 65_000);
    assert.ok((o.connectionsCheckingInterval ?? 30_000) <= 2000, 'Node checks the timeouts often enough');
  });

  test('metrics.enabled is gone: the error names metrics.listen and the fix', () => {
    for (const [object, env] of [
      [{ ...base(), metrics: { enabled: true } }, {}],
      [{ ...base(), metrics: { enabled: false } }, {}],
      [base(), { GATEHOUSE_METRICS_ENABLED: 'true' }],
    ] as const) {
      const [line, ...rest] = configProblems(object, env);
      assert.equal(rest.length, 0);
      assert.match(line!, /^metrics\.enabled: removed/);
      assert.match(line!, /set metrics\.listen/);
      assert.match(line!, /0\.0\.0\.0:9464/);
      assert.match(line!, /GATEHOUSE_METRICS_LISTEN/);
    }
  });

  test('metrics.listen is HOST:PORT of its own, from YAML or GATEHOUSE_METRICS_LISTEN', () => {
    assert.equal(
      loadConfig({ object: { ...base(), metrics: { listen: '0.0.0.0:9464' } }, env: {} }).metrics.listen,
      '0.0.0.0:9464',
    );
    assert.equal(
      loadConfig({ object: base(), env: { GATEHOUSE_METRICS_LISTEN: '[::]:9464' } }).metrics.listen,
      '[::]:9464',
    );
    assert.match(
      configProblems({ ...base(), metrics: { listen: '9464' } }).join('\n'),
      /metrics\.listen.*HOST:PORT/,
    );
    assert.match(
      configProblems({ ...base(), listen: '0.0.0.0:4180', metrics: { listen: '0.0.0.0:4180' } }).join('\n'),
      /metrics\.listen: must differ from listen/,
    );
  });

  test('server.trustedProxies: every entry must be what BlockList reads, or the key is named (no crash at start)', () => {
    for (const bad of ['10.0.0.0/33', '::1/129', '999.1.1.1', '1.2.3', '10.0.0.0/8/1', 'proxy.internal']) {
      const p = configProblems({ ...base(), server: { trustedProxies: [bad] } });
      assert.match(p.join('\n'), /server\.trustedProxies\.0: must be an IP address or CIDR/, bad);
    }
    const ok = loadConfig({
      object: { ...base(), server: { trustedProxies: ['10.0.0.0/8', 'fd00::/8', '127.0.0.1', '::1'] } },
      env: {},
    });
    assert.equal(ok.server.trustedProxies.length, 4);
  });

  test('the headers timeout cannot exceed the request timeout (Node refuses it)', () => {
    assert.match(
      configProblems({ ...base(), server: { headersTimeoutSeconds: 60, requestTimeoutSeconds: 30 } }).join(
        '\n',
      ),
      /server\.headersTimeoutSeconds: must not exceed server\.requestTimeoutSeconds \(30\)/,
    );
    const off = loadConfig({ object: { ...base(), server: { requestTimeoutSeconds: 0 } }, env: {} });
    assert.equal(serverOptions(off.server).requestTimeout, 0);
    assert.equal(serverOptions(off.server).headersTimeout, 20_000, 'the headers timeout still holds');
  });
});
