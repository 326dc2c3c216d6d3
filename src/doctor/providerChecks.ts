import type { GatehouseConfig } from '../config/schema.js';
import { SIGNED_OUT_PATH } from '../engine/logout.js';
import { endpointDowngrades } from '../oidc/insecureTransport.js';
import { discoverOpenIdProvider } from '../oidc/openIdConnect.js';
import type { ProviderPreset } from '../oidc/presets/preset.js';
import { probeDiscovery, probeJwks } from '../oidc/providerProbe.js';
import { type CheckResult, fail, pass, reasonOf, warn } from './check.js';
import { judgeClockSkew } from './clockSkew.js';

/** The provider's discovery document, for the refresh-readiness checks. */
export type ProviderMetadata = Record<string, unknown> & {
  issuer: string;
  scopes_supported?: string[];
  grant_types_supported?: string[];
};

export interface ProviderFindings {
  checks: CheckResult[];
  /** Undefined when discovery failed (or the preset has none). */
  metadata: ProviderMetadata | undefined;
}

/**
 * The ID token algorithm Gatehouse will expect, as openIdConnect.ts picks it: the first of
 * provider.idTokenSigningAlgs the provider offers, else RS256 (OIDC's default for a client that
 * names none). Undefined: the allow-list names none the provider offers (the gateway refuses that).
 */
export function expectedIdTokenAlg(
  allowList: readonly string[],
  offered: readonly string[] | undefined,
): string | undefined {
  if (allowList.length === 0) return 'RS256';
  return allowList.find((a) => (offered ?? ['RS256']).includes(a));
}

function algorithmCheck(
  cfg: GatehouseConfig,
  offered: string[] | undefined,
): { result: CheckResult; alg: string | undefined } {
  const check = 'provider.id-token-alg';
  const allow = cfg.provider.idTokenSigningAlgs;
  const alg = expectedIdTokenAlg(allow, offered);
  const listed = offered ? offered.join(', ') : 'none listed (RS256 assumed)';
  if (!alg) {
    return {
      alg,
      result: fail(
        check,
        `the provider signs ID tokens with ${listed}, none of provider.idTokenSigningAlgs (${allow.join(', ')})`,
        `set provider.idTokenSigningAlgs to one the provider offers (${listed})`,
      ),
    };
  }
  if (offered && !offered.includes(alg)) {
    return {
      alg,
      result: fail(
        check,
        `Gatehouse expects ${alg}-signed ID tokens, but the provider lists only ${listed} in id_token_signing_alg_values_supported`,
        `set provider.idTokenSigningAlgs: [${offered[0]}] (or have the provider sign this client's ID tokens with ${alg})`,
      ),
    };
  }
  return { alg, result: pass(check, `ID tokens signed with ${alg} (the provider offers ${listed})`) };
}

async function jwksCheck(
  cfg: GatehouseConfig,
  metadata: ProviderMetadata,
  alg: string | undefined,
): Promise<CheckResult> {
  const check = 'provider.jwks';
  const uri = metadata.jwks_uri;
  if (typeof uri !== 'string') {
    return fail(
      check,
      'the discovery document has no jwks_uri, so no ID token can be verified',
      'fix the provider’s metadata (jwks_uri is required by OpenID Connect Discovery)',
    );
  }
  const algs = [...new Set([alg ?? 'RS256', 'RS256', 'ES256', 'PS256', 'EdDSA'])];
  try {
    const probe = await probeJwks(uri, algs, cfg.provider.timeoutSeconds * 1000);
    if (probe.keys.length === 0) {
      return fail(
        check,
        `${uri} holds no keys`,
        'publish the provider’s signing keys (is the realm or tenant set up?)',
      );
    }
    const kinds = probe.keys.map((k) => [k.kty, k.crv ?? k.alg].filter(Boolean).join(' ')).join(', ');
    if (alg && !probe.usable.includes(alg)) {
      return fail(
        check,
        `${probe.keys.length} key(s) (${kinds}) at ${uri}, none of which verifies ${alg} signatures`,
        `publish a ${alg} signing key at the provider, or set provider.idTokenSigningAlgs to what its keys verify (${probe.usable.join(', ') || 'nothing'})`,
      );
    }
    return pass(
      check,
      `${probe.keys.length} key(s) (${kinds}) at ${uri}; verifies ${probe.usable.join(', ')}`,
    );
  } catch (err) {
    return fail(
      check,
      `${uri} could not be fetched as a JWKS: ${reasonOf(err)}`,
      'make the jwks_uri reachable from Gatehouse (firewall, proxy, TLS)',
    );
  }
}

function logoutChecks(
  cfg: GatehouseConfig,
  preset: ProviderPreset,
  metadata: ProviderMetadata,
): CheckResult[] {
  const p = cfg.provider;
  const out: CheckResult[] = [];
  const endSession =
    typeof metadata.end_session_endpoint === 'string' ? metadata.end_session_endpoint : undefined;
  if (!p.endSession) {
    out.push(
      pass(
        'provider.end-session',
        'provider.endSession: false — logout ends the Gatehouse session only; the provider’s session stays (the next sign-in may be silent)',
      ),
    );
  } else if (p.logoutUrl) {
    out.push(
      pass('provider.end-session', `logout goes to provider.logoutUrl (${new URL(p.logoutUrl).origin})`),
    );
  } else if (endSession) {
    out.push(pass('provider.end-session', `logout ends the provider session too, at ${endSession}`));
  } else {
    const target = preset.logoutTarget({
      clientId: p.clientId ?? 'client',
      authorizationEndpoint:
        typeof metadata.authorization_endpoint === 'string' ? metadata.authorization_endpoint : undefined,
      postLogoutRedirectUri: new URL(SIGNED_OUT_PATH, cfg.publicUrl).href,
    });
    if (target) {
      out.push(
        pass(
          'provider.end-session',
          `no end_session_endpoint; the ${preset.name} preset logs out at ${new URL(target).origin}${new URL(target).pathname}`,
        ),
      );
    } else {
      out.push(
        warn(
          'provider.end-session',
          'provider.endSession is on, but the provider has no end_session_endpoint: logout ends the Gatehouse session only, and the next sign-in at the provider is silent',
          'set provider.logoutUrl to the provider’s logout page (with {client_id} and {post_logout_redirect_uri}), or provider.endSession: false to say so',
        ),
      );
    }
  }
  const backchannel = metadata.backchannel_logout_supported === true;
  const frontchannel = metadata.frontchannel_logout_supported === true;
  const backUrl = new URL('/oauth2/backchannel-logout', cfg.publicUrl).href;
  const frontUrl = new URL('/oauth2/frontchannel-logout', cfg.publicUrl).href;
  if (backchannel || frontchannel) {
    const ways = [
      backchannel && `back-channel (register ${backUrl})`,
      frontchannel && `front-channel (register ${frontUrl})`,
    ].filter(Boolean);
    out.push(
      pass(
        'provider.logout-propagation',
        `a sign-out at the provider can end Gatehouse sessions: ${ways.join('; ')}`,
      ),
    );
  } else {
    out.push(
      pass(
        'provider.logout-propagation',
        `the provider supports neither back- nor front-channel logout: a sign-out elsewhere ends a Gatehouse session only at its expiry (session.maxAgeSeconds ${cfg.session.maxAgeSeconds} s, or when a refresh fails)`,
      ),
    );
  }
  return out;
}

/**
 * The provider, live: one discovery attempt within provider.timeoutSeconds (never the gateway's
 * retry loop), issuer equality, transport, ID token algorithm, JWKS, clock skew, logout support.
 */
export async function providerChecks(
  cfg: GatehouseConfig,
  preset: ProviderPreset,
): Promise<ProviderFindings> {
  const p = cfg.provider;
  if (preset.identitySource !== discoverOpenIdProvider) {
    return {
      metadata: undefined,
      checks: [
        warn(
          'provider.discovery',
          `the ${preset.name} preset does not use OpenID Connect discovery: the live provider checks do not apply to it`,
          'sign in once through Gatehouse to check this provider',
        ),
      ],
    };
  }
  const probe = await probeDiscovery({
    issuer: p.issuer,
    clientId: p.clientId,
    timeoutSeconds: p.timeoutSeconds,
  });
  if (!probe.ok) {
    const mismatch = probe.issuerMismatch;
    return {
      metadata: undefined,
      checks: [
        mismatch
          ? fail(
              'provider.issuer',
              probe.reason,
              `set provider.issuer to exactly ${probe.advertisedIssuer} (ID tokens carry that iss; OpenID Connect Discovery §4.3 requires them to be equal)`,
            )
          : fail(
              'provider.discovery',
              `${new URL(p.issuer).origin}: ${probe.reason} (after ${probe.elapsedMs} ms)`,
              'check provider.issuer (its /.well-known/openid-configuration must answer 200) and that this host can reach it (DNS, firewall, proxy, TLS)',
            ),
      ],
    };
  }
  const metadata = probe.metadata as unknown as ProviderMetadata;
  const ms = probe.exchange.receivedAt - probe.exchange.sentAt;
  const checks: CheckResult[] = [
    pass(
      'provider.discovery',
      `${probe.exchange.url} answered in ${ms} ms (limit provider.timeoutSeconds ${p.timeoutSeconds} s)`,
    ),
    pass('provider.issuer', `the discovery document names issuer ${metadata.issuer}, as configured`),
  ];
  const downgrades = endpointDowngrades(p.issuer, metadata, p.allowInsecureIssuer);
  checks.push(
    downgrades.length
      ? fail(
          'provider.https',
          `the gateway refuses this discovery document: ${downgrades.join('; ')}`,
          'fix the provider’s endpoint URLs (its public base URL / proxy headers)',
        )
      : pass(
          'provider.https',
          new URL(p.issuer).protocol === 'https:'
            ? 'every endpoint in discovery is https'
            : 'every endpoint in discovery is https or loopback',
        ),
  );
  const offered = Array.isArray(metadata.id_token_signing_alg_values_supported)
    ? (metadata.id_token_signing_alg_values_supported as string[])
    : undefined;
  const { result, alg } = algorithmCheck(cfg, offered);
  checks.push(result);
  checks.push(await jwksCheck(cfg, metadata, alg));
  const { date, sentAt, receivedAt } = probe.exchange;
  checks.push(
    judgeClockSkew(date === undefined ? undefined : { date, sentAt, receivedAt }, p.clockToleranceSeconds),
  );
  checks.push(...logoutChecks(cfg, preset, metadata));
  return { checks, metadata };
}
