import { createRemoteJWKSet, importJWK, type JWK, customFetch as joseCustomFetch } from 'jose';
import * as client from 'openid-client';

/**
 * One look at the provider, for `gatehouse doctor` (src/doctor/): a single discovery attempt and
 * a single JWKS fetch, each bounded by provider.timeoutSeconds. Unlike the gateway's provider
 * (provider.ts) it never retries: an unreachable provider is an answer, not something to wait out.
 * Protocol code lives in src/oidc/ (scripts/check-layers.mjs), so the doctor asks through here.
 */

/** What a probe saw of one HTTP response besides its body. */
export interface ProbeExchange {
  url: string;
  status: number;
  /** The `Date` response header, when sent. */
  date: string | undefined;
  /** Local time (ms since epoch) when the request was sent and when the response head arrived. */
  sentAt: number;
  receivedAt: number;
}

export type DiscoveryProbe =
  | {
      ok: true;
      metadata: client.ServerMetadata;
      exchange: ProbeExchange;
    }
  | {
      ok: false;
      /** One line: why discovery failed. */
      reason: string;
      /** The response, when one came (e.g. a 503), or the issuer it named on a mismatch. */
      exchange: ProbeExchange | undefined;
      advertisedIssuer: string | undefined;
      /** The document answered, naming another issuer than the one configured. */
      issuerMismatch: boolean;
      elapsedMs: number;
    };

/** The one fetch both probes use, recording what the doctor reports (status, `Date` header, timing). */
function recordingFetch(seen: ProbeExchange[]) {
  return async (url: string, init: RequestInit): Promise<Response> => {
    const sentAt = Date.now();
    // caFile: the one place doctor's requests to the provider (discovery and JWKS) would trust
    // provider.caFile — an undici Agent with `connect: { ca }` as `dispatcher` — as the gateway's own calls do.
    const res = await fetch(url, init);
    seen.push({
      url,
      status: res.status,
      date: res.headers.get('date') ?? undefined,
      sentAt,
      receivedAt: Date.now(),
    });
    return res;
  };
}

/** One discovery attempt with openid-client, as the gateway discovers (openIdConnect.ts), within `timeoutSeconds`. */
export async function probeDiscovery(opts: {
  issuer: string;
  clientId: string | undefined;
  timeoutSeconds: number;
}): Promise<DiscoveryProbe> {
  const seen: ProbeExchange[] = [];
  const started = Date.now();
  const issuer = new URL(opts.issuer);
  const execute: Array<(c: client.Configuration) => void> = [];
  if (issuer.protocol === 'http:') execute.push(client.allowInsecureRequests);
  const fetchAndRecord = recordingFetch(seen);
  let advertisedIssuer: string | undefined;
  try {
    const conf = await client.discovery(
      issuer,
      opts.clientId ?? 'gatehouse-doctor',
      undefined,
      client.None(),
      {
        execute,
        timeout: opts.timeoutSeconds,
        // Reads the issuer the document names (for the report on a mismatch) without consuming the body.
        [client.customFetch]: async (url, init) => {
          const res = await fetchAndRecord(url, init as RequestInit);
          try {
            const body = (await res.clone().json()) as { issuer?: unknown };
            if (typeof body.issuer === 'string') advertisedIssuer = body.issuer;
          } catch {
            // Not JSON: openid-client reports that itself.
          }
          return res;
        },
      },
    );
    const exchange = seen[0];
    if (!exchange) throw new Error('discovery answered without an HTTP exchange');
    return { ok: true, metadata: conf.serverMetadata(), exchange };
  } catch (err) {
    const elapsedMs = Date.now() - started;
    const exchange = seen[0];
    let reason = describeError(err);
    let issuerMismatch = false;
    const names = [(err as Error)?.name, ((err as Error)?.cause as Error | undefined)?.name];
    if (names.includes('TimeoutError') || names.includes('AbortError')) {
      reason = `no answer within provider.timeoutSeconds (${opts.timeoutSeconds} s)`;
    } else if (exchange && exchange.status !== 200) {
      reason = `${exchange.url} answered HTTP ${exchange.status}`;
    } else if (
      advertisedIssuer !== undefined &&
      advertisedIssuer !== issuer.href.replace(/\/$/, '') &&
      advertisedIssuer !== opts.issuer
    ) {
      issuerMismatch = true;
      reason = `the discovery document names issuer ${advertisedIssuer}, not ${opts.issuer}`;
    }
    return { ok: false, reason, exchange, advertisedIssuer, issuerMismatch, elapsedMs };
  }
}

function describeError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  const message = e.message ?? String(err);
  return cause && !message.includes(cause) ? `${message} (${cause})` : message;
}

/** One key of the provider's JWKS, as the doctor reports it (public parameters only). */
export interface KeySummary {
  kid: string | undefined;
  kty: string | undefined;
  alg: string | undefined;
  use: string | undefined;
  crv: string | undefined;
}

export interface JwksProbe {
  keys: KeySummary[];
  /** Of `algorithms`, those at least one key verifies (right type, `use` sig, imports with jose). */
  usable: string[];
  exchange: ProbeExchange | undefined;
}

/** Whether a JWK can verify `alg` signatures: jose imports it for that algorithm, and it is not an encryption key. */
async function verifiesWith(jwk: JWK, alg: string): Promise<boolean> {
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes('verify')) return false;
  try {
    await importJWK(jwk, alg);
    return true;
  } catch {
    return false;
  }
}

/**
 * Fetches the JWKS once with jose (as ProviderKeys does, jwks.ts) and says which of `algorithms`
 * its keys can verify. Throws jose's error when the set cannot be fetched or is not a JWKS.
 */
export async function probeJwks(
  jwksUri: string,
  algorithms: string[],
  timeoutMs: number,
): Promise<JwksProbe> {
  const seen: ProbeExchange[] = [];
  const set = createRemoteJWKSet(new URL(jwksUri), {
    timeoutDuration: timeoutMs,
    [joseCustomFetch]: recordingFetch(seen),
  });
  await set.reload();
  const jwks = (set.jwks()?.keys ?? []) as JWK[];
  const usable: string[] = [];
  for (const alg of algorithms) {
    for (const jwk of jwks) {
      if (await verifiesWith(jwk, alg)) {
        usable.push(alg);
        break;
      }
    }
  }
  return {
    keys: jwks.map((k) => ({ kid: k.kid, kty: k.kty, alg: k.alg, use: k.use, crv: k.crv })),
    usable,
    exchange: seen[0],
  };
}
