import { z } from 'zod';
import { DEFAULT_CLAIM_MAPPING } from '../identity/identity.js';
import { httpUrl } from '../util/httpUrl.js';
import { PRESET_NAMES } from './presets/index.js';

/**
 * The `provider` section of the configuration, owned here (config/schema.ts composes it): who the
 * provider is, which preset says how to talk to it, and the limits of every call to it.
 */
export const providerSettingsSchema = z
  .object({
    issuer: httpUrl,
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    /**
     * What differs between providers (presets/*.ts, registered in presets/index.ts): `generic`
     * works for any OIDC provider; `google` handles Google's offline-access rules; `cognito` logs
     * out through Cognito's own /logout (it has no end_session_endpoint); `github` signs in with
     * GitHub (OAuth 2.0, identity from its REST API; issuer https://github.com or a GitHub
     * Enterprise Server URL).
     */
    preset: z.enum(PRESET_NAMES).default('generic'),
    scopes: z.array(z.string().min(1)).default(['openid', 'email', 'profile', 'offline_access']),
    /** Request `offline_access` when discovery lists it (generic preset). */
    requestOfflineAccess: z.boolean().default(true),
    /** Extra authorization request parameters (e.g. `prompt: consent`, `audience: ...`). */
    authorizationParams: z.record(z.string(), z.string()).default({}),
    groupsClaim: z.string().min(1).default(DEFAULT_CLAIM_MAPPING.groupsClaim),
    rolesClaim: z.string().min(1).default(DEFAULT_CLAIM_MAPPING.rolesClaim),
    usernameClaim: z.string().min(1).default(DEFAULT_CLAIM_MAPPING.usernameClaim),
    emailClaim: z.string().min(1).default(DEFAULT_CLAIM_MAPPING.emailClaim),
    /**
     * Read the userinfo endpoint at login and refresh: `auto` when the provider has one and the ID
     * token lacks a claim Gatehouse uses (emailClaim, usernameClaim, groupsClaim — see
     * userinfoNeed.ts); `true` always; `false` never. Its `sub` must equal the ID token's.
     */
    // The strings come from the environment (GATEHOUSE_PROVIDER_USE_USERINFO=true|false|auto).
    useUserinfo: z
      .union([z.boolean(), z.enum(['auto', 'true', 'false'])])
      .transform((v): boolean | 'auto' => (v === 'true' ? true : v === 'false' ? false : v))
      .default('auto'),
    /** JWS algorithms accepted for ID tokens; empty = what discovery advertises. */
    idTokenSigningAlgs: z.array(z.string()).default([]),
    clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
    /**
     * Hard timeout of every IdP HTTP call. A refresh grant runs to this limit even after the
     * waiting request gave up (refresh.timeoutSeconds): a rotated token must never be lost.
     */
    timeoutSeconds: z.number().positive().max(120).default(30),
    /** Max concurrent HTTP calls to the IdP from this replica (token, userinfo, ...). */
    maxConcurrentRequests: z.number().int().min(1).max(1000).default(32),
    endSession: z.boolean().default(true),
    /**
     * Logout at a provider without an end_session_endpoint (or to override it): a URL where
     * {client_id}, {post_logout_redirect_uri} and {id_token_hint} are replaced, URL-encoded.
     */
    logoutUrl: httpUrl.optional(),
    /** Allow a plain-http issuer off loopback (keys and the client secret then travel in clear). */
    allowInsecureIssuer: z.boolean().default(false),
    /**
     * Hosts that distributed-claim endpoints (`_claim_sources`, Entra group overage) may be
     * fetched from. Default: the issuer's host and graph.microsoft.com.
     */
    claimSourceHosts: z.array(z.string().min(1)).optional(),
  })
  .strict();

export type ProviderSettings = z.infer<typeof providerSettingsSchema>;

/**
 * What OidcProvider reads of the whole configuration: its own section, and the three keys of
 * other sections that shape a token result. The gateway's configuration is one of these.
 */
export interface OidcProviderConfig {
  /** The redirect URI is `<publicUrl>/oauth2/callback`. */
  publicUrl: string;
  provider: ProviderSettings;
  /** A token that never expires (GitHub OAuth apps) lives as long as the session. */
  session: { maxAgeSeconds: number };
  /** Used when neither the token response nor the tokens carry an expiry. */
  refresh: { defaultTokenLifetimeSeconds: number };
}
