import type { GatehouseConfig } from '../config/schema.js';
import { isLoopbackHostname } from '../oidc/insecureTransport.js';
import { type LoginProbeOutcome, portIsFree, probeLogin, type TokenFacts } from '../oidc/loginProbe.js';
import type { ProviderPreset } from '../oidc/presets/preset.js';
import { systemClock } from '../util/clock.js';
import { createLogger } from '../util/log.js';
import { type CheckResult, fail, pass, warn } from './check.js';
import type { ProviderMetadata } from './providerChecks.js';
import { plannedRequest } from './refreshReadiness.js';

/**
 * The loopback callback `doctor --login` uses when the configured one is taken (the gateway is
 * running) or not on loopback: register it at the provider once (docs/operations.md).
 */
export const DOCUMENTED_LOGIN_CALLBACK = 'http://127.0.0.1:4181/oauth2/callback';
export const DEFAULT_LOGIN_TIMEOUT_SECONDS = 120;

export class LoginUsageError extends Error {}

/** A `--login-callback` value: plain http on a loopback host, with a port. Throws LoginUsageError. */
export function parseLoginCallback(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new LoginUsageError(`--login-callback "${value}" is not a URL (e.g. ${DOCUMENTED_LOGIN_CALLBACK})`);
  }
  if (url.protocol !== 'http:' || !isLoopbackHostname(url.hostname) || !url.port || url.search || url.hash) {
    throw new LoginUsageError(
      `--login-callback must be http://127.0.0.1:PORT/PATH (plain http on a loopback host with a port, no query): the doctor listens on it itself; got "${value}"`,
    );
  }
  return url;
}

/**
 * Which callback the login proof listens on: `--login-callback` when given; else the gateway's
 * own (`<publicUrl>/oauth2/callback`) when publicUrl is plain http on loopback and its port is
 * free (the gateway is stopped), since that one is registered already; else the documented one.
 */
export async function chooseLoginCallback(
  cfg: GatehouseConfig,
  flag: string | undefined,
): Promise<{ callback: URL; why: string }> {
  if (flag !== undefined) return { callback: parseLoginCallback(flag), why: 'from --login-callback' };
  const configured = new URL('/oauth2/callback', cfg.publicUrl);
  const documented = new URL(DOCUMENTED_LOGIN_CALLBACK);
  if (configured.protocol !== 'http:' || !isLoopbackHostname(configured.hostname)) {
    return {
      callback: documented,
      why: `publicUrl ${new URL(cfg.publicUrl).origin} is not plain http on loopback, so the documented doctor callback is used (it must be registered at the provider)`,
    };
  }
  if (!configured.port) configured.port = '80';
  if (await portIsFree(configured)) {
    return {
      callback: configured,
      why: 'the gateway’s own callback (its port is free: the gateway is stopped)',
    };
  }
  return {
    callback: documented,
    why: `port ${configured.port} of publicUrl is in use (the gateway is running?), so the documented doctor callback is used (it must be registered at the provider)`,
  };
}

function seconds(n: number): string {
  return n >= 3600 && n % 60 === 0 ? `${n} s (${+(n / 3600).toFixed(2)} h)` : `${n} s`;
}

function accessLine(f: TokenFacts): string {
  return f.expiresInStated
    ? `${seconds(f.accessLifetimeSeconds)} (expires_in)`
    : `${seconds(f.accessLifetimeSeconds)} (no expires_in: from the token’s exp, else refresh.defaultTokenLifetimeSeconds)`;
}

/**
 * `gatehouse doctor --login`: one real login on a loopback callback and one refresh grant; the
 * findings say what came back (a refresh token, lifetimes, rotation), never a token.
 */
export async function loginChecks(
  cfg: GatehouseConfig,
  preset: ProviderPreset,
  metadata: ProviderMetadata | undefined,
  opts: {
    callback: URL;
    why: string;
    timeoutSeconds: number;
    /** Where the URL to open goes (stdout in the text report, stderr with --json). */
    print: (line: string) => void;
  },
): Promise<CheckResult[]> {
  if (!metadata) {
    return [
      fail(
        'login',
        'not attempted: the provider’s discovery document could not be read (see provider.discovery)',
        'fix provider.discovery first',
      ),
    ];
  }
  const { clientId, clientSecret } = cfg.provider;
  if (!clientId || !clientSecret) {
    return [
      fail(
        'login',
        'not attempted: the client is registered at start (provider.registration), so there is no client id to log in with',
        'set provider.clientId and provider.clientSecret of a registered client to run doctor --login',
      ),
    ];
  }
  const callbackCheck = pass('login.callback', `listening on ${opts.callback.href} — ${opts.why}`);
  const outcome = await probeLogin({
    cfg: { ...cfg, provider: { ...cfg.provider, clientId, clientSecret } },
    callback: opts.callback,
    timeoutSeconds: opts.timeoutSeconds,
    clock: systemClock,
    // The probe's own log (a missing refresh token, say) is reported as findings instead.
    logger: createLogger('silent'),
    onUrl: (url) =>
      opts.print(
        `open this URL in a browser (waiting up to ${opts.timeoutSeconds} s for ${opts.callback.href}):\n${url}\n`,
      ),
  });
  const scopesSupported = Array.isArray(metadata.scopes_supported) ? metadata.scopes_supported : undefined;
  const { plan, params } = plannedRequest(cfg, preset, scopesSupported);
  const judged = judge(outcome, plan, params, cfg, opts.why);
  return outcome.kind === 'listen-failed' || outcome.kind === 'unreachable'
    ? judged
    : [callbackCheck, ...judged];
}

function judge(
  o: LoginProbeOutcome,
  plan: ReturnType<typeof plannedRequest>['plan'],
  params: Record<string, string>,
  cfg: GatehouseConfig,
  why: string,
): CheckResult[] {
  switch (o.kind) {
    case 'unreachable':
      return [fail('login', `not attempted: ${o.reason}`, 'fix provider.discovery first')];
    case 'listen-failed':
      return [
        fail(
          'login.callback',
          `cannot listen on ${o.callback} (${why}): ${o.reason}`,
          '--login-callback http://127.0.0.1:PORT/oauth2/callback with a free port registered at the provider (or stop the gateway to use its own callback)',
        ),
      ];
    case 'timeout':
      return [
        fail(
          'login',
          `nobody completed the login within ${o.seconds} s (no request reached ${o.callback})`,
          `open the printed URL in a browser on this machine and sign in (a longer wait: --login-timeout SECONDS); if the provider showed an error about redirect_uri, register ${o.callback} for this client or pass a registered one with --login-callback`,
        ),
      ];
    case 'login-failed':
      return [
        fail(
          'login',
          `the login failed: ${o.failure.code} — ${o.failure.description}`,
          o.failure.description.includes('redirect_uri') || o.failure.code === 'invalid_request'
            ? `register ${o.callback} as a redirect URI of this client at the provider, or pass a registered one with --login-callback`
            : 'fix what the provider or the token validation names, then run doctor --login again',
        ),
      ];
    case 'signed-in':
      break;
  }
  const out: CheckResult[] = [
    pass('login', `signed in through ${o.callback}; state, nonce and ID token valid`),
  ];
  const asked =
    plan.scopes.includes('offline_access') ||
    Object.keys(params).length > 0 ||
    plan.refreshTokenUnasked === true;
  if (o.login.refreshToken) {
    out.push(pass('login.refresh-token', 'the provider issued a refresh token'));
  } else if (!cfg.provider.requestOfflineAccess && !asked) {
    out.push(
      warn(
        'login.refresh-token',
        'no refresh token came back (none asked for: provider.requestOfflineAccess: false); sessions end when the access token expires',
        'provider.requestOfflineAccess: true, unless sessions are meant to last one access token',
      ),
    );
  } else if (!asked) {
    out.push(
      fail(
        'login.refresh-token',
        'no refresh token came back, and Gatehouse asked for none (no offline_access, no access_type=offline): sessions end when the access token expires',
        'see refresh.offline-access (for Google: provider.preset: google); then run doctor --login again',
      ),
    );
  } else {
    out.push(
      fail(
        'login.refresh-token',
        'no refresh token came back: sessions end when the access token expires',
        plan.missingRefreshHint,
      ),
    );
  }
  out.push(pass('login.access-token', `access token lifetime ${accessLine(o.login)}`));
  out.push(
    o.login.idTokenLifetimeSeconds !== undefined
      ? pass('login.id-token', `ID token lifetime ${seconds(o.login.idTokenLifetimeSeconds)} (exp − iat)`)
      : o.login.idToken
        ? pass('login.id-token', 'the ID token carries no iat, so its lifetime is not known')
        : pass('login.id-token', 'no ID token (an OAuth 2.0 provider: identity from its API)'),
  );
  const r = o.refresh;
  if (!r) return out;
  if (!r.ok) {
    out.push(
      fail(
        'login.refresh-grant',
        `the refresh grant failed: ${r.failure.code} — ${r.failure.description}`,
        r.failure.code === 'invalid_grant'
          ? 'the provider refused the refresh token it just issued: check its refresh-token settings for this client (lifetime, reuse, revocation on rotation)'
          : 'fix what the provider answered (a 5xx or timeout is the provider’s; unauthorized_client: allow the refresh_token grant for this client)',
      ),
    );
    return out;
  }
  out.push(
    pass(
      'login.refresh-grant',
      `one refresh grant succeeded; new access token lifetime ${accessLine(r.facts)}`,
    ),
  );
  out.push(
    pass(
      'login.rotation',
      r.rotated
        ? 'the refresh token rotated (a new one came back with the refresh; Gatehouse keeps the newest)'
        : 'the refresh token did not rotate (the same one stays in use)',
    ),
  );
  const lifetime = r.facts.refreshExpiresInSeconds ?? o.login.refreshExpiresInSeconds;
  out.push(
    pass(
      'login.refresh-lifetime',
      lifetime !== undefined
        ? `refresh token lifetime ${seconds(lifetime)} (refresh_expires_in)`
        : 'the provider does not say how long the refresh token lives (no refresh_expires_in)',
    ),
  );
  return out;
}
