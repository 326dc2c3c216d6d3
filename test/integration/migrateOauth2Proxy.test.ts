import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { DevIdp } from '../../src/devidp/index.js';
import { createGateway } from '../../src/gateway.js';
import { migrateOauth2Proxy } from '../../src/migrate/migrateOauth2Proxy.js';
import { knownOauth2ProxyOptions } from '../../src/migrate/oauth2ProxyTranslation.js';
import { createLogger } from '../../src/util/log.js';
import { TestBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { startTestIdp } from '../helpers/devIdp.js';
import { jsonLogSink } from '../helpers/logSink.js';
import { freePort } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

const COOKIE_SECRET = 'an-oauth2-proxy-cookie-secret-of-44-chars-xx';

/** Runs `gatehouse migrate ARGS` through the real CLI. */
function runMigrate(args: string[], env: Record<string, string> = {}) {
  return runCli(['migrate', ...args], env);
}

/** An oauth2-proxy configuration as people write them (TOML, the legacy options). */
function oauth2ProxyCfg(o: { issuer: string; port: number; upstream: string }): string {
  return `## oauth2-proxy.cfg
http_address = "127.0.0.1:${o.port}"
upstreams = [ "${o.upstream}" ]
provider = "oidc"
oidc_issuer_url = "${o.issuer}"
client_id = "gatehouse"
client_secret = "gatehouse-dev-secret"
redirect_url = "http://127.0.0.1:${o.port}/oauth2/callback"
cookie_secret = "${COOKIE_SECRET}"
cookie_secure = false
cookie_expire = "12h"
cookie_refresh = "1m"
email_domains = [ "example.com" ]
skip_auth_routes = [ "^/public", "GET=^/health$", "^/api/v[0-9]+/status" ]
pass_access_token = true
set_xauthrequest = true
skip_provider_button = true
custom_templates_dir = "/etc/oauth2-proxy/templates"
made_up_option = "x"
`;
}

describe('gatehouse migrate oauth2-proxy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrate-'));
  let idp: DevIdp;
  let upstream: EchoUpstream;
  before(async () => {
    idp = await startTestIdp();
    upstream = await startEchoUpstream();
  });
  after(async () => {
    await upstream?.close();
    await idp?.stop();
  });

  it('a sample oauth2-proxy config becomes a gatehouse.yaml that starts, logs alice in and applies email_domains', async () => {
    const port = await freePort();
    const src = join(dir, 'oauth2-proxy.cfg');
    writeFileSync(src, oauth2ProxyCfg({ issuer: idp.issuer, port, upstream: upstream.url }));
    const out = join(dir, 'gatehouse.yaml');
    const r = await runMigrate(['oauth2-proxy', src, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(out).mode & 0o777, 0o600, 'it may hold the client secret');
    // the report: every option, with what became of it
    assert.match(r.stderr, /^mapped +email_domains → authorization\.allowedEmailDomains/m);
    assert.match(r.stderr, /^mapped +redirect_url → publicUrl/m);
    assert.match(r.stderr, /^changed +cookie_refresh: Gatehouse refreshes tokens itself/m);
    assert.match(
      r.stderr,
      /^changed +skip_auth_routes → skipAuth: .*not carried over: GET=\^\/health\$, \^\/api\/v\[0-9\]\+\/status/m,
    );
    assert.match(r.stderr, /^unsupported custom_templates_dir: /m);
    assert.match(r.stderr, /^unsupported made_up_option: not an oauth2-proxy option Gatehouse knows/m);
    assert.doesNotMatch(r.stderr, new RegExp(COOKIE_SECRET), 'the report never prints a secret');
    const yaml = readFileSync(out, 'utf8');
    assert.match(yaml, /^# +mapped +client_id → provider\.clientId/m, 'the report is in the file too');
    const doc = parseYaml(yaml) as {
      skipAuth: string[];
      publicUrl: string;
      session: Record<string, unknown>;
    };
    assert.deepEqual(doc.skipAuth, ['/public']);
    assert.equal(doc.session.maxAgeSeconds, 43_200);
    assert.equal(doc.publicUrl, `http://127.0.0.1:${port}`);

    // …and it runs
    const cfg = loadConfig({ file: out, env: {} });
    const logs: Array<Record<string, unknown>> = [];
    const gw = await createGateway(cfg, { logger: createLogger('info', jsonLogSink(logs)) });
    await gw.listen();
    await gw.discovered;
    try {
      const as = (user: string) => {
        const b = new TestBrowser();
        return b.follow(`http://127.0.0.1:${port}/dash`, {
          rewrite: (u) => {
            if (!u.startsWith(`${idp.issuer}/authorize`)) return u;
            const x = new URL(u);
            x.searchParams.set('login_hint', user);
            return x.href;
          },
        });
      };
      const alice = (await as('alice')).at(-1)!;
      assert.equal(alice.status, 200, alice.body);
      const echo = alice.json<{ headers: Record<string, string> }>();
      assert.equal(echo.headers['x-forwarded-email'], 'alice@example.com');
      assert.match(echo.headers['x-forwarded-access-token'] ?? '', /^ey/, 'pass_access_token carried over');
      // carol@other.example is outside email_domains
      assert.equal((await as('carol')).at(-1)!.status, 403);
      // skip_auth_routes ^/public
      const pub = await new TestBrowser().request(`http://127.0.0.1:${port}/public/x`, { kind: 'api' });
      assert.equal(pub.status, 200);
    } finally {
      await gw.close();
    }
  });

  it('the environment and flags: later sources win, secrets from the environment stay references', () => {
    const m = migrateOauth2Proxy({
      env: {
        OAUTH2_PROXY_OIDC_ISSUER_URL: idp.issuer,
        OAUTH2_PROXY_CLIENT_ID: 'from-env',
        OAUTH2_PROXY_CLIENT_SECRET: 'a-secret-from-the-environment',
        OAUTH2_PROXY_COOKIE_SECRET: COOKIE_SECRET,
        OAUTH2_PROXY_EMAIL_DOMAINS: 'example.com, example.org',
        OAUTH2_PROXY_UPSTREAMS: upstream.url,
        PATH: '/usr/bin',
      },
      flags: [
        '--client-id=from-flag',
        '--redirect-url',
        'https://app.example.com/oauth2/callback',
        '--allowed-group=admins',
        '--allowed-group',
        'ops',
      ],
    });
    assert.deepEqual(m.problems, []);
    const c = m.config as {
      publicUrl: string;
      provider: Record<string, unknown>;
      session: Record<string, unknown>;
      authorization: Record<string, unknown>;
    };
    assert.equal(c.provider.clientId, 'from-flag', 'flags win over the environment');
    assert.equal(c.provider.clientSecret, 'env:OAUTH2_PROXY_CLIENT_SECRET');
    assert.equal(c.session.secret, 'env:OAUTH2_PROXY_COOKIE_SECRET');
    assert.doesNotMatch(m.yaml, /a-secret-from-the-environment/);
    assert.deepEqual(c.authorization.allowedEmailDomains, ['example.com', 'example.org']);
    assert.deepEqual(c.authorization.allowedGroups, ['admins', 'ops']);
    assert.equal(c.publicUrl, 'https://app.example.com');
  });

  it('an incomplete configuration is written with what it still needs, and exits 78 naming the key', async () => {
    const src = join(dir, 'partial.cfg');
    writeFileSync(src, 'client_id = "x"\nclient_secret = "y"\ncookie_secret = "short"\n');
    const r = await runMigrate(['oauth2-proxy', src]);
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /still needs:[\s\S]*provider\.issuer/);
    assert.match(
      r.stderr,
      /GATEHOUSE_SESSION_SECRET: the configuration reads a secret from this environment variable/,
    );
    assert.match(r.stderr, /publicUrl/);
    assert.match(r.stderr, /^changed +cookie_secret → session\.secret: shorter than the 32 characters/m);
    assert.match(r.stdout, /^# Still needed before/m);
    assert.match(r.stdout, /secret: env:GATEHOUSE_SESSION_SECRET/);
  });

  it('unreadable or invalid input is a clear error (exit 2), never a stack trace', async () => {
    const bad = join(dir, 'bad.cfg');
    writeFileSync(bad, 'client_id = \n');
    const r = await runMigrate(['oauth2-proxy', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.cfg: not valid TOML/);
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
    const missing = await runMigrate(['oauth2-proxy', join(dir, 'nope.cfg')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.cfg: cannot be read \(ENOENT\)/);
    const none = await runMigrate(['oauth2-proxy']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no oauth2-proxy options found/);
  });

  it('docs/migrating-from-oauth2-proxy.md lists every option the migration knows', () => {
    const doc = readFileSync(new URL('../../docs/migrating-from-oauth2-proxy.md', import.meta.url), 'utf8');
    const missing = knownOauth2ProxyOptions().filter((o) => !doc.includes(`| \`${o}\` |`));
    assert.deepEqual(missing, []);
  });
});
