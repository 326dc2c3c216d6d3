import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { createGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/util/log.js';
import { TestBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { startTestIdp } from '../helpers/devIdp.js';
import { jsonLogSink } from '../helpers/logSink.js';
import { freePort, TEST_SECRET } from '../helpers/stack.js';

/** Runs the real CLI (`gatehouse serve`) and collects its exit code and stderr. */
function runServe(args: string[], env: Record<string, string> = {}) {
  return runCli(args, env);
}

describe('start-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cfg-'));

  it('a bad config exits non-zero naming each key and the fix', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'publicUrl: not-a-url',
        'provider:',
        '  issuer: http://127.0.0.1:9',
        '  clientId: gatehouse',
        'session:',
        '  secret: short',
        'authorisation: {}',
      ].join('\n'),
    );
    const r = await runServe(['serve', '--config', file]);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /publicUrl: must be an absolute http\(s\) URL/);
    assert.match(
      r.stderr,
      /provider\.clientSecret: is required, unless provider\.registration .*\(config key provider\.clientSecret, or env GATEHOUSE_PROVIDER_CLIENT_SECRET\)/,
    );
    assert.match(r.stderr, /session\.secret: must be at least 32 characters/);
    assert.match(r.stderr, /unknown key authorisation/);
  });

  it('a plain-http issuer off loopback exits 78 naming provider.issuer and provider.allowInsecureIssuer', async () => {
    const file = join(dir, 'insecure-issuer.yaml');
    const lines = (extra: string[]) =>
      [
        'publicUrl: http://127.0.0.1:4180',
        'upstream: http://127.0.0.1:9',
        'provider:',
        '  issuer: http://idp.example.com',
        '  clientId: gatehouse',
        '  clientSecret: gatehouse-dev-secret',
        ...extra,
        'session:',
        `  secret: ${TEST_SECRET}`,
      ].join('\n');
    writeFileSync(file, lines([]));
    const r = await runServe(['serve', '--config', file]);
    assert.equal(r.code, 78);
    assert.match(
      r.stderr,
      /provider\.issuer: http:\/\/idp\.example\.com is plain http on a non-loopback host/,
    );
    assert.match(r.stderr, /use the https issuer URL, or set provider\.allowInsecureIssuer: true/);
  });

  it('an unusable provider.caFile (from GATEHOUSE_PROVIDER_CA_FILE) exits 78 naming the key and the fix', async () => {
    const file = join(dir, 'ca-config.yaml');
    writeFileSync(
      file,
      [
        'publicUrl: http://127.0.0.1:4180',
        'upstream: http://127.0.0.1:9',
        'provider:',
        '  issuer: https://idp.internal.example',
        '  clientId: gatehouse',
        '  clientSecret: gatehouse-dev-secret',
        'session:',
        `  secret: ${TEST_SECRET}`,
      ].join('\n'),
    );
    const notPem = join(dir, 'not-a-ca.pem');
    writeFileSync(notPem, 'this is not a certificate\n');
    const r = await runServe(['serve', '--config', file], { GATEHOUSE_PROVIDER_CA_FILE: notPem });
    assert.equal(r.code, 78);
    assert.match(
      r.stderr,
      new RegExp(`provider\\.caFile: ${notPem.replace(/[.]/g, '\\.')} holds no PEM certificate`),
    );
    assert.match(r.stderr, /give the CA certificate\(s\) in PEM/);
  });

  it('allowInsecureIssuer: true lets a plain-http issuer through with a warning at start', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const sink = jsonLogSink(logs);
    const cfg = loadConfig({
      env: {},
      object: {
        listen: '127.0.0.1:0',
        publicUrl: 'http://127.0.0.1:4180',
        upstream: 'http://127.0.0.1:9',
        provider: {
          issuer: 'http://idp.invalid',
          clientId: 'gatehouse',
          clientSecret: 'gatehouse-dev-secret',
          allowInsecureIssuer: true,
        },
        session: { secret: TEST_SECRET },
      },
    });
    const gw = await createGateway(cfg, { logger: createLogger('info', sink) });
    try {
      const warning = logs.find((l) => /provider\.allowInsecureIssuer/.test(String(l.msg)));
      assert.ok(warning, JSON.stringify(logs));
      assert.equal(warning.level, 40, 'a warning');
      assert.match(String(warning.msg), /in clear/);
    } finally {
      await gw.close();
    }
  });

  it('env overrides and env:/file: secret references are applied', async () => {
    const secretFile = join(dir, 'client-secret');
    writeFileSync(secretFile, 'from-a-file\n');
    const cfg = loadConfig({
      env: {
        GATEHOUSE_PUBLIC_URL: 'http://127.0.0.1:4180',
        GATEHOUSE_PROVIDER_ISSUER: 'http://127.0.0.1:9000',
        GATEHOUSE_PROVIDER_CLIENT_ID: 'gatehouse',
        GATEHOUSE_PROVIDER_CLIENT_SECRET: `file:${secretFile}`,
        GATEHOUSE_SESSION_SECRET: 'env:MY_SESSION_SECRET',
        MY_SESSION_SECRET: TEST_SECRET,
        GATEHOUSE_AUTHORIZATION_ALLOWED_GROUPS: 'admins,dev',
        GATEHOUSE_SESSION_IDLE_TIMEOUT_SECONDS: '900',
      },
    });
    assert.equal(cfg.provider.clientSecret, 'from-a-file');
    assert.equal(cfg.session.secret, TEST_SECRET);
    assert.deepEqual(cfg.authorization.allowedGroups, ['admins', 'dev']);
    assert.equal(cfg.session.idleTimeoutSeconds, 900);
  });

  it('with the IdP unreachable it keeps retrying discovery, /readyz says why, and becomes ready when the IdP appears', async () => {
    const idpPort = await freePort();
    const port = await freePort();
    const logs: Array<Record<string, unknown>> = [];
    const sink = jsonLogSink(logs);
    const cfg = loadConfig({
      env: {},
      object: {
        listen: `127.0.0.1:${port}`,
        publicUrl: `http://127.0.0.1:${port}`,
        upstream: 'http://127.0.0.1:9',
        provider: {
          issuer: `http://127.0.0.1:${idpPort}`,
          clientId: 'gatehouse',
          clientSecret: 'gatehouse-dev-secret',
        },
        session: { secret: TEST_SECRET },
      },
    });
    const gw = await createGateway(cfg, { logger: createLogger('info', sink) });
    const url = await gw.listen();
    try {
      const b = new TestBrowser();
      const notReady = await b.request(`${url}/readyz`, { kind: 'api' });
      assert.equal(notReady.status, 503);
      assert.match(JSON.stringify(notReady.json()), /discovery/);
      const page = await b.request(`${url}/app`);
      assert.equal(page.status, 503, 'a login cannot start yet: a clear 503, not a crash');
      assert.match(page.body, /not reachable yet/);
      assert.ok(
        logs.some((l) => /OIDC discovery at .* failed/.test(String(l.msg))),
        'the log says why',
      );
      const idp = await startTestIdp({ port: idpPort });
      try {
        await gw.discovered;
        assert.equal((await b.request(`${url}/readyz`, { kind: 'api' })).status, 200);
        const start = await b.request(`${url}/app`);
        assert.equal(start.status, 302);
      } finally {
        await idp.stop();
      }
    } finally {
      await gw.close();
    }
  });
});
