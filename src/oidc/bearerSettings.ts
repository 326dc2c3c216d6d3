import { z } from 'zod';
import { httpUrl } from '../util/httpUrl.js';

/**
 * The `bearer` section of the configuration, owned here (config/schema.ts composes it): whether
 * and where the gateway accepts `Authorization: Bearer …` tokens, whose tokens (issuers and
 * audiences), with which algorithms, and how opaque tokens are introspected (RFC 7662).
 */

/** Asymmetric JWS algorithms only: never `none`, never HS* (a public key must not be used as an HMAC secret). */
export const ASYMMETRIC_JWS_ALGS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

const issuerSchema = z
  .object({
    issuer: httpUrl,
    /** A token must name one of these in `aud` (required: a token for another API must not open this one). */
    audiences: z
      .array(z.string().min(1))
      .min(1, 'must list at least one audience (the aud your API tokens carry)'),
    /** The issuer's JWKS; default: from its discovery document (`/.well-known/openid-configuration`). */
    jwksUri: httpUrl.optional(),
  })
  .strict();

export const bearerSettingsSchema = z
  .object({
    /** Which bearer tokens are accepted: `jwt` (verified locally), `introspection` (RFC 7662). [] = none. */
    accept: z.array(z.enum(['jwt', 'introspection'])).default([]),
    /**
     * Issuers whose JWTs are accepted, each with its audiences. Default: the provider's issuer
     * with `bearer.audiences`.
     */
    issuers: z.array(issuerSchema).default([]),
    /** Audiences for the provider's own issuer, when `issuers` does not list it. */
    audiences: z.array(z.string().min(1)).default([]),
    /** JWS algorithms accepted for JWT access tokens (asymmetric only). */
    algorithms: z
      .array(
        z.enum(ASYMMETRIC_JWS_ALGS, {
          error: `must be one of ${ASYMMETRIC_JWS_ALGS.join(', ')} (never none or HS*)`,
        }),
      )
      .min(1)
      .default([...ASYMMETRIC_JWS_ALGS]),
    /** A verified JWT is remembered (by its SHA-256) at most this long, and never past its `exp`. */
    jwtCacheSeconds: z.number().int().min(0).max(3600).default(300),
    /** Verified JWTs remembered at most (least recently used dropped first). */
    jwtCacheEntries: z.number().int().min(1).max(1_000_000).default(10_000),
    introspection: z
      .object({
        /** Default: the provider's `introspection_endpoint` from discovery. */
        endpoint: httpUrl.optional(),
        /** An active answer is remembered at most this long, and never past the token's `exp`. */
        cacheSeconds: z.number().int().min(0).max(3600).default(60),
        /** An inactive answer is remembered this long (a flood of one bad token costs one call). */
        negativeCacheSeconds: z.number().int().min(0).max(300).default(5),
        /** Concurrent introspection calls at most (its own budget: logins and refreshes never wait on it). */
        maxConcurrent: z.number().int().min(1).max(1000).default(8),
        /** Introspections waiting for a slot at most; beyond it a request gets a 503 at once. */
        maxQueue: z.number().int().min(0).max(100_000).default(100),
        /** Answers remembered at most (by token hash; least recently used dropped first). */
        maxCacheEntries: z.number().int().min(1).max(1_000_000).default(10_000),
      })
      .strict()
      .prefault({}),
    /**
     * Where bearer tokens are accepted (segment-bounded, case-insensitive, every reading of the
     * path). Default: everywhere. Elsewhere `Authorization` is ignored, as without `accept`.
     */
    pathPrefixes: z.array(z.string().startsWith('/', 'must start with /')).default([]),
    /**
     * A request with both a bearer token and a session cookie: true (default) = the token decides;
     * false = a live session wins, and the token decides only when there is none.
     */
    preferOverCookie: z.boolean().default(true),
  })
  .strict()
  .prefault({});

export type BearerSettings = z.infer<typeof bearerSettingsSchema>;
export type BearerIssuer = BearerSettings['issuers'][number];

/**
 * Cross-key problems of the section (the loader adds them to the others, one line per key):
 * accepting JWTs needs an audience, since "any token the IdP signed" includes every other API's.
 */
export function bearerConfigProblems(b: BearerSettings, providerIssuer: string): string[] {
  const problems: string[] = [];
  if (b.accept.includes('jwt') && b.issuers.length === 0 && b.audiences.length === 0) {
    problems.push(
      `bearer.audiences: is required when bearer.accept includes jwt — list the aud your API tokens carry (e.g. [gatehouse-api]), or list bearer.issuers with their audiences`,
    );
  }
  if (b.accept.length === 0 && (b.issuers.length > 0 || b.audiences.length > 0)) {
    problems.push(
      'bearer.accept: is empty, so bearer.issuers/audiences have no effect — set accept: [jwt] (and/or introspection)',
    );
  }
  const own = b.issuers.find((i) => sameIssuer(i.issuer, providerIssuer));
  if (b.accept.includes('introspection') && b.audiences.length === 0 && !own) {
    problems.push(
      `bearer.audiences: is required when bearer.accept includes introspection — an active token must name one of them in aud (e.g. [gatehouse-api])`,
    );
  }
  const seen = new Set<string>();
  for (const i of b.issuers) {
    if (seen.has(i.issuer))
      problems.push(`bearer.issuers: ${i.issuer} is listed twice — merge its audiences`);
    seen.add(i.issuer);
  }
  return problems;
}

/** The issuers whose JWTs are accepted: the listed ones, plus the provider's own with `bearer.audiences`. */
export function acceptedIssuers(b: BearerSettings, providerIssuer: string): BearerIssuer[] {
  const list = [...b.issuers];
  if (b.audiences.length && !list.some((i) => sameIssuer(i.issuer, providerIssuer))) {
    list.push({ issuer: providerIssuer, audiences: b.audiences });
  }
  return list;
}

/** Issuer identifiers compare exactly (OIDC Core §3.1.3.7), except a trailing slash config writers differ on. */
export function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/$/, '') === b.replace(/\/$/, '');
}
