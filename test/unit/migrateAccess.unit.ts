import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { migrateOauth2Proxy } from '../../src/migrate/migrateOauth2Proxy.js';

/**
 * `gatehouse migrate oauth2-proxy` must never write a configuration that lets in someone the
 * oauth2-proxy one kept out, and still call it complete (exit 0). An oauth2-proxy option that
 * restricts who may sign in and that the migration cannot carry over is a problem (exit 78).
 */
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrate-access-'));
const BASE = `
provider = "oidc"
oidc_issuer_url = "https://idp.example.com"
client_id = "gatehouse"
client_secret = "a-client-secret"
redirect_url = "https://app.example.com/oauth2/callback"
cookie_secret = "an-oauth2-proxy-cookie-secret-of-44-chars-xx"
upstreams = [ "http://127.0.0.1:3000" ]
`;

function migrate(extra: string) {
  const file = join(dir, `cfg-${Math.random().toString(36).slice(2)}.cfg`);
  writeFileSync(file, `${BASE}${extra}\n`);
  return migrateOauth2Proxy({ file });
}

describe('migrate oauth2-proxy: an access restriction is never dropped in silence', () => {
  test('authenticated_emails_file without email_domains: not complete (oauth2-proxy lets only the listed addresses in)', () => {
    const m = migrate('authenticated_emails_file = "/etc/oauth2-proxy/emails.txt"');
    assert.ok(
      m.problems.some((p) => p.includes('authenticated_emails_file')),
      `problems: ${JSON.stringify(m.problems)}`,
    );
  });

  test('authenticated_emails_file next to email_domains: complete (dropping the file only narrows access)', () => {
    const m = migrate(
      'email_domains = [ "example.com" ]\nauthenticated_emails_file = "/etc/oauth2-proxy/emails.txt"',
    );
    assert.deepEqual(m.problems, []);
  });

  for (const [option, value] of [
    ['github_org', '"acme"'],
    ['github_team', '"acme:platform"'],
    ['github_users', '[ "alice" ]'],
    ['github_repo', '"acme/app"'],
    ['gitlab_groups', '[ "acme" ]'],
    ['google_groups', '[ "staff@example.com" ]'],
    ['keycloak_groups', '[ "/admins" ]'],
    ['entra_id_allowed_tenants', '[ "0000-tenant" ]'],
  ] as const) {
    test(`${option}: not complete (every account of the provider would get in)`, () => {
      const m = migrate(`email_domains = [ "*" ]\n${option} = ${value}`);
      assert.ok(
        m.problems.some((p) => p.includes(option)),
        `${option} dropped and the configuration called complete: ${JSON.stringify(m.problems)}`,
      );
    });
  }

  test('an unknown option that reads like an allow-list is not complete either (fail closed)', () => {
    const m = migrate('email_domains = [ "*" ]\ngitea_org = "acme"');
    assert.ok(
      m.problems.some((p) => p.includes('gitea_org')),
      JSON.stringify(m.problems),
    );
  });

  test('email_domains ".example.com" / "*.example.com" (oauth2-proxy: subdomains) is not silently a literal domain', () => {
    const m = migrate('email_domains = [ "example.com", ".corp.example.com", "*.lab.example.com" ]');
    const line = m.report.find((l) => l.option === 'email_domains');
    assert.notEqual(
      line?.status,
      'mapped',
      'reported as the same meaning, but Gatehouse matches domains exactly',
    );
  });

  test('extra_jwt_issuers without skip_jwt_bearer_tokens stays off (oauth2-proxy ignores it then)', () => {
    const m = migrate('email_domains = [ "*" ]\nextra_jwt_issuers = [ "https://other.example.com=api" ]');
    const bearer = (m.config.bearer ?? {}) as Record<string, unknown>;
    assert.equal(
      bearer.issuers,
      undefined,
      'bearer.issuers set although oauth2-proxy accepts no bearer token',
    );
    assert.deepEqual(m.problems, [], 'no problem that asks to turn bearer.accept on');
  });
});

describe('migrate oauth2-proxy: secrets stay out of messages', () => {
  test('a malformed flag is named without its value', () => {
    assert.throws(
      () => migrateOauth2Proxy({ flags: ['--client_secret=SUPERSECRET'] }),
      (err: Error) => err.message.includes('--client_secret') && !err.message.includes('SUPERSECRET'),
    );
  });

  test('an unreadable Redis URL is reported (no TypeError, no password in the report)', () => {
    const m = migrateOauth2Proxy({
      flags: ['--redis-sentinel-connection-urls=redis://:HUNTER2@[bad', '--email-domain=*'],
    });
    const line = m.report.find((l) => l.option === 'redis_sentinel_connection_urls');
    assert.equal(line?.status, 'unsupported');
    assert.ok(!JSON.stringify(m.report).includes('HUNTER2'), JSON.stringify(line));
    assert.ok(!m.yaml.includes('HUNTER2'));
  });
});

describe('migrate oauth2-proxy: upstreams', () => {
  test('an upstream path is a route in oauth2-proxy, passed through unchanged: the upstream is its origin, not a prefix', () => {
    const file = join(dir, 'upstream-path.cfg');
    writeFileSync(
      file,
      `${BASE.replace('http://127.0.0.1:3000', 'http://127.0.0.1:3000/app/')}email_domains = [ "*" ]\n`,
    );
    const m = migrateOauth2Proxy({ file });
    // oauth2-proxy sends /app/x to http://127.0.0.1:3000/app/x; Gatehouse prefixes the upstream's
    // path, so "http://127.0.0.1:3000/app/" would send it to /app/app/x.
    assert.equal(m.config.upstream, 'http://127.0.0.1:3000');
    const line = m.report.find((l) => l.option === 'upstreams');
    assert.equal(line?.status, 'changed');
    assert.match(line?.note ?? '', /\/app\//);
  });
});

describe('migrate oauth2-proxy: what the upstream is told', () => {
  test('pass_authorization_header (oauth2-proxy: the ID token) is not "same meaning" as Gatehouse sending the access token', () => {
    const m = migrate('email_domains = [ "*" ]\npass_authorization_header = true');
    const line = m.report.find((l) => l.option === 'pass_authorization_header');
    assert.equal(line?.status, 'changed', JSON.stringify(line));
    assert.match(line?.note ?? '', /access token/);
  });

  test('skip_auth_routes "^/public/" says that /public itself is exempt too', () => {
    const m = migrate('email_domains = [ "*" ]\nskip_auth_routes = [ "^/public/" ]');
    const line = m.report.find((l) => l.option === 'skip_auth_routes');
    assert.match(line?.note ?? '', /\/public itself/, JSON.stringify(line));
  });
});
