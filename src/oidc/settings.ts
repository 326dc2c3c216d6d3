import { z } from 'zod';
import { type ClaimMapping, DEFAULT_CLAIM_MAPPING } from '../identity/identity.js';
import { httpUrl } from '../util/httpUrl.js';
import { entraSettingsSchema } from './presets/entraSettings.js';
import { PRESET_NAMES, type PresetName, resolvePreset } from './presets/index.js';

/**
 * The `provider` section of the configuration, owned here (config/schema.ts composes it): who the
 * provider is, which preset says how to talk to it, and the limits of every call to it.
 */
export const providerSettingsSchema = z
  .object({
    issuer: httpUrl,
    /** Optional only with `registration` (Dynamic Client Registration gets them at start). */
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
    /**
     * What differs between providers (presets/*.ts, registered in presets/index.ts). `auto` (the
     * default) picks one from the issuer (each preset's matchesIssuer, in registry order) and
     * falls back to `generic`, which works for any OIDC provider; a name always wins. Config
     * loading resolves `auto` once: a loaded configuration names a preset.
     * `entra` is Microsoft Entra ID (`oid`/`tid` as subject, tenant allow-list for multi-tenant
     * issuers, group overage through Microsoft Graph).
     */
    preset: z.enum(['auto', ...PRESET_NAMES]).default('auto'),
    scopes: z.array(z.string().min(1)).default(['openid', 'email', 'profile', 'offline_access']),
    /** Request `offline_access` when discovery lists it (generic preset). */
    requestOfflineAccess: z.boolean().default(true),
    /** Extra authorization request parameters (e.g. `prompt: consent`, `audience: ...`). */
    authorizationParams: z.record(z.string(), z.string()).default({}),
    // Unset: the preset's claim (claimDefaults), else the standard one (DEFAULT_CLAIM_MAPPING);
    // filled in by config loading (withPresetDefaults), so "unset" and "set" stay apart.
    groupsClaim: z.string().min(1).optional(),
    rolesClaim: z.string().min(1).optional(),
    usernameClaim: z.string().min(1).optional(),
    emailClaim: z.string().min(1).optional(),
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
    /**
     * An internal CA: the path of a PEM bundle (several certificates allowed), or a list of paths,
     * trusted in addition to Node's roots for every call to the provider (providerFetch.ts). From
     * the environment (GATEHOUSE_PROVIDER_CA_FILE) one path.
     */
    caFile: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /**
     * Re-read discovery in the background every this many seconds (a failed re-read keeps the
     * metadata we have); 0 = never. Min 60.
     */
    discoveryRefreshSeconds: z
      .number()
      .int()
      .refine((n) => n === 0 || (n >= 60 && n <= 86_400), {
        message: 'must be 0 (never) or between 60 and 86400 seconds',
      })
      .default(3600),
    /** Allow a plain-http issuer off loopback (keys and the client secret then travel in clear). */
    allowInsecureIssuer: z.boolean().default(false),
    /**
     * Hosts that distributed-claim endpoints (`_claim_sources`, Entra group overage) may be
     * fetched from. Default: the issuer's host and graph.microsoft.com.
     */
    claimSourceHosts: z.array(z.string().min(1)).optional(),
    /**
     * Front-channel logout (GET /oauth2/frontchannel-logout): refuse (400) a request without `iss`
     * and `sid`. Either way sessions end only by iss + sid, never by the cookie that came along.
     */
    frontchannelLogoutSessionRequired: z.boolean().default(true),
    /** Settings of preset `entra` (tenant allow-list, Microsoft Graph): presets/entraSettings.ts. */
    entra: entraSettingsSchema.optional(),
    /**
     * Dynamic Client Registration (RFC 7591) instead of clientId/clientSecret: Gatehouse registers
     * itself at the provider's registration_endpoint at start and reuses the registration (kept
     * in `storeFile`, sealed with the session secret). See core/clientRegistration.ts.
     */
    registration: z
      .object({
        initialAccessToken: z.string().min(1).optional(),
        storeFile: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.registration !== undefined) {
      if (p.clientId !== undefined || p.clientSecret !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['registration'],
          message:
            'cannot be combined with provider.clientId/clientSecret — remove registration to use a registered client, or remove clientId and clientSecret to register dynamically',
        });
      }
      return;
    }
    for (const key of ['clientId', 'clientSecret'] as const) {
      if (p[key] === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `is required, unless provider.registration registers Gatehouse at the provider (Dynamic Client Registration)`,
        });
      }
    }
  });

/** The section as written (after zod): `preset` may be `auto`, claim names may be unset. */
export type ProviderSettingsAsWritten = z.infer<typeof providerSettingsSchema>;

/**
 * The section as loaded (config/load.ts): the preset resolved to a name, every claim name known.
 * clientId/clientSecret are absent when `registration` will provide them.
 */
export type ConfiguredProviderSettings = Omit<ProviderSettingsAsWritten, 'preset' | keyof ClaimMapping> &
  ClaimMapping & {
    preset: PresetName;
    /** Why this preset is in force ("provider.preset", "auto: issuer path /realms/<realm>"), for the start-up log. */
    presetChosenBecause: string;
  };

/**
 * The loaded section of a written one: `auto` resolved from the issuer (presets/index.ts), and
 * the claim names the configuration leaves unset taken from the preset, else the standard ones.
 */
export function withPresetDefaults(p: ProviderSettingsAsWritten): ConfiguredProviderSettings {
  const { preset, because } = resolvePreset(p.preset, p.issuer);
  const mapping: ClaimMapping = { ...DEFAULT_CLAIM_MAPPING, ...preset.claimDefaults };
  return {
    ...p,
    preset: preset.name as PresetName,
    presetChosenBecause: because,
    groupsClaim: p.groupsClaim ?? mapping.groupsClaim,
    rolesClaim: p.rolesClaim ?? mapping.rolesClaim,
    usernameClaim: p.usernameClaim ?? mapping.usernameClaim,
    emailClaim: p.emailClaim ?? mapping.emailClaim,
  };
}
/** The section once the client is known (configured, or registered at start). */
export type ProviderSettings = Omit<ConfiguredProviderSettings, 'clientId' | 'clientSecret'> & {
  clientId: string;
  clientSecret: string;
};

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

/**
 * The configuration with its client known: as configured, or with the registered client filled
 * in (core/clientRegistration.ts). Throws when neither — the schema makes that unreachable for a
 * loaded configuration, short of registration not having run.
 */
export function withClient<C extends { provider: ConfiguredProviderSettings }>(
  cfg: C,
  client?: { clientId: string; clientSecret: string },
): Omit<C, 'provider'> & { provider: ProviderSettings } {
  const clientId = client?.clientId ?? cfg.provider.clientId;
  const clientSecret = client?.clientSecret ?? cfg.provider.clientSecret;
  if (clientId === undefined || clientSecret === undefined) {
    throw new Error('provider.clientId/clientSecret are unknown: the client registration has not run');
  }
  return { ...cfg, provider: { ...cfg.provider, clientId, clientSecret } };
}
