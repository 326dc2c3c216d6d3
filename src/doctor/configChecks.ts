import type { GatehouseConfig } from '../config/schema.js';
import { cookieNames, serializeCookie } from '../engine/cookies.js';
import { isLoopbackHostname, usesInsecureIssuer } from '../oidc/insecureTransport.js';
import { type CheckResult, fail, pass, warn } from './check.js';

/**
 * Secrets that are printed in our docs, examples, tests and benchmarks (grep README.md docs/
 * bench/ test/helpers/ for `secret`): anybody can read them, so a deployment must not use them.
 * `gatehouse-dev-secret` is the dev IdP's default client secret (docs/dev-idp.md).
 */
export const DOCUMENTED_SECRETS: readonly string[] = [
  'gatehouse-dev-secret',
  'test-secret-test-secret-test-secret-0123456789',
  'bench-secret-bench-secret-bench-secret-0123456789',
  'bench-peers-secret-bench-peers-secret-0123456789',
  'bench-peers-client-secret-0123456789',
];

/** `openssl rand -base64 48` makes 64 characters; the schema's floor is 32. */
const GOOD_SECRET_LENGTH = 43;

/**
 * Whether a secret looks typed by a person rather than generated: few distinct characters, or a
 * short phrase repeated to reach the length (`test-secret-test-secret-…`).
 */
export function looksHandMade(secret: string): boolean {
  if (new Set(secret).size < 12) return true;
  for (let n = 2; n <= secret.length / 2; n++) {
    const unit = secret.slice(0, n);
    let repeats = 0;
    for (let i = 0; i + n <= secret.length; i += n) if (secret.slice(i, i + n) === unit) repeats++;
    if (repeats >= 3 && repeats * n >= secret.length * 0.6) return true;
  }
  return false;
}

function sessionSecretChecks(cfg: GatehouseConfig): CheckResult[] {
  const check = 'config.session.secret';
  const secrets = [
    { key: 'session.secret', value: cfg.session.secret },
    ...cfg.session.previousSecrets.map((value, i) => ({ key: `session.previousSecrets[${i}]`, value })),
  ];
  const out: CheckResult[] = [];
  for (const { key, value } of secrets) {
    if (DOCUMENTED_SECRETS.includes(value)) {
      out.push(
        warn(
          check,
          `${key} is an example printed in Gatehouse's docs or tests: anybody who reads them can forge session cookies`,
          `generate one (openssl rand -base64 48) and pass it as env:NAME or file:/path`,
        ),
      );
    } else if (looksHandMade(value)) {
      out.push(
        warn(
          check,
          `${key} looks typed by hand (few distinct characters or a repeated phrase), so it may be guessed`,
          'generate one (openssl rand -base64 48)',
        ),
      );
    } else if (value.length < GOOD_SECRET_LENGTH) {
      out.push(
        warn(
          check,
          `${key} has ${value.length} characters; generated secrets of ${GOOD_SECRET_LENGTH}+ leave no doubt`,
          'generate one (openssl rand -base64 48)',
        ),
      );
    }
  }
  if (cfg.session.previousSecrets.includes(cfg.session.secret)) {
    out.push(
      warn(
        check,
        'session.secret is also listed in session.previousSecrets',
        'remove it from previousSecrets (that list is for the secrets being rotated out)',
      ),
    );
  }
  if (out.length === 0) {
    const previous = cfg.session.previousSecrets.length;
    out.push(
      pass(
        check,
        `${cfg.session.secret.length} characters, not a documented example${previous ? ` (and ${previous} previous secret(s) likewise)` : ''}`,
      ),
    );
  }
  return out;
}

function clientSecretCheck(cfg: GatehouseConfig): CheckResult {
  const check = 'config.provider.clientSecret';
  const p = cfg.provider;
  if (p.registration !== undefined) {
    return pass(check, 'none configured: Dynamic Client Registration (provider.registration) obtains it');
  }
  const secret = p.clientSecret ?? '';
  if (DOCUMENTED_SECRETS.includes(secret)) {
    const loopback = isLoopbackHostname(new URL(p.issuer).hostname);
    return warn(
      check,
      `is an example printed in Gatehouse's docs (the dev IdP's default)${loopback ? ', acceptable only for a dev IdP on loopback' : ''}`,
      'use the secret the provider issued for this client, as env:NAME or file:/path; run the dev IdP with --client-secret of your own when it is reachable from elsewhere',
    );
  }
  return pass(check, `set (${secret.length} characters), not a documented example`);
}

function publicUrlCheck(cfg: GatehouseConfig): CheckResult {
  const check = 'config.publicUrl';
  const url = new URL(cfg.publicUrl);
  const https = url.protocol === 'https:';
  const jar = cookieNames({ secure: https, base: cfg.session.cookieName });
  // The flags as the gateway writes them (engine/cookies.ts), the value elided.
  const flags = serializeCookie(jar, jar.session, '…').split('; ').slice(1).join('; ');
  if (https) {
    return pass(check, `${url.origin} is https: cookies ${jar.session}, ${jar.login} with ${flags}`);
  }
  if (isLoopbackHostname(url.hostname)) {
    return warn(
      check,
      `${url.origin} is plain http on loopback: cookies ${jar.session}, ${jar.login} without Secure or the __Host- prefix (${flags}) — fine for development only`,
      'use the https URL users reach Gatehouse at (behind a TLS-terminating proxy, publicUrl is still https)',
    );
  }
  return fail(
    check,
    `${url.origin} is plain http off loopback: the session cookie (${flags}, no Secure) and the login callback's code travel in clear`,
    'serve Gatehouse over https and set publicUrl to the https URL (behind a TLS-terminating proxy, publicUrl is still https)',
  );
}

function issuerTransportCheck(cfg: GatehouseConfig): CheckResult {
  const check = 'config.provider.issuer';
  const issuer = new URL(cfg.provider.issuer);
  if (issuer.protocol === 'https:') return pass(check, `${issuer.origin} is https`);
  if (usesInsecureIssuer(cfg.provider.issuer, cfg.provider.allowInsecureIssuer)) {
    return warn(
      check,
      `${issuer.origin} is plain http off loopback, allowed by provider.allowInsecureIssuer: the client secret, tokens and signing keys cross the network in clear`,
      'use the https issuer URL and remove provider.allowInsecureIssuer',
    );
  }
  return warn(
    check,
    `${issuer.origin} is plain http on loopback (a dev IdP, presumably)`,
    'use the provider’s https issuer URL outside development',
  );
}

function leaseCheck(cfg: GatehouseConfig): CheckResult {
  const check = 'config.refresh.lockLeaseSeconds';
  const timeout = cfg.provider.timeoutSeconds;
  // The default as core/gatewayCore.ts computes it.
  const lease = cfg.refresh.lockLeaseSeconds ?? timeout + 5;
  const how =
    cfg.refresh.lockLeaseSeconds === undefined ? 'default: provider.timeoutSeconds + 5' : 'configured';
  // The loader refuses lease <= timeout (exit 78); this is for a margin too thin to trust.
  if (lease < timeout + 1) {
    return warn(
      check,
      `the refresh lease (${lease} s, ${how}) outlasts provider.timeoutSeconds (${timeout} s) by under a second: a grant finishing at the timeout can outlive the lease on a busy replica`,
      `leave refresh.lockLeaseSeconds unset (${timeout + 5} s) or raise it`,
    );
  }
  return pass(
    check,
    `the refresh lease (${lease} s, ${how}) is longer than provider.timeoutSeconds (${timeout} s)`,
  );
}

function shutdownCheck(cfg: GatehouseConfig): CheckResult {
  const check = 'config.shutdownTimeoutSeconds';
  const shutdown = cfg.shutdownTimeoutSeconds;
  const timeout = cfg.provider.timeoutSeconds;
  if (shutdown < timeout) {
    return warn(
      check,
      `${shutdown} s is below provider.timeoutSeconds (${timeout} s): a refresh grant still waiting on a slow provider at shutdown is cut off, and a rotated refresh token it would have stored is lost (that user signs in again)`,
      `raise shutdownTimeoutSeconds to at least ${timeout} (and the orchestrator's grace period above it), or lower provider.timeoutSeconds`,
    );
  }
  return pass(
    check,
    `${shutdown} s covers provider.timeoutSeconds (${timeout} s): refreshes in flight finish at shutdown`,
  );
}

function storeCheck(cfg: GatehouseConfig): CheckResult {
  const check = 'config.session.store';
  if (cfg.session.store === 'redis') {
    return pass(check, 'redis: sessions, refresh leases and login flows are shared by every replica');
  }
  const finding =
    'memory: sessions live in this process only — run exactly one replica (a second one would not know the first one’s sessions, and refreshes would not be coordinated); a restart signs everybody out';
  if (isLoopbackHostname(new URL(cfg.publicUrl).hostname)) return pass(check, finding);
  return warn(
    check,
    finding,
    'session.store: redis (session.redisUrl) for more than one replica or to survive restarts',
  );
}

function authorizationCheck(cfg: GatehouseConfig): CheckResult {
  const check = 'config.authorization';
  const a = cfg.authorization;
  const lists = [a.allowedEmailDomains, a.allowedUsers, a.allowedGroups, a.allowedRoles];
  if (lists.some((l) => l.length > 0) || a.rules.length > 0) {
    return pass(check, 'access is limited by allowed* lists or path rules');
  }
  return warn(
    check,
    'no allowedEmailDomains, allowedUsers, allowedGroups, allowedRoles or rules: anybody the provider signs in is let through',
    'limit access with authorization.allowedEmailDomains / allowedGroups (…), unless the provider admits only your users to this client',
  );
}

/** The configuration as loaded (the loader already refused every invalid key: exit 78). */
export function configChecks(cfg: GatehouseConfig, source: string): CheckResult[] {
  return [
    pass('config.valid', `${source}: every key is valid`),
    ...sessionSecretChecks(cfg),
    clientSecretCheck(cfg),
    publicUrlCheck(cfg),
    issuerTransportCheck(cfg),
    leaseCheck(cfg),
    shutdownCheck(cfg),
    storeCheck(cfg),
    authorizationCheck(cfg),
  ];
}
