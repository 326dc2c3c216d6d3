import type { JWTPayload } from 'jose';
import { describeCause } from '../util/errors.js';
import { isLoopbackHostname } from './insecureTransport.js';
import type { ProviderFetch } from './providerFetch.js';

/**
 * OIDC Core §5.6.2 distributed claims, as Entra ID uses them for "group overage": above ~200
 * groups the ID token carries `_claim_names: {groups: "src1"}` and
 * `_claim_sources: {src1: {endpoint}}` instead of the groups. We fetch the endpoint with the
 * access token and put the list where the groups claim would have been.
 *
 * The endpoint is named by the token, so it is treated as hostile input (issue 8, item 11):
 * - only hosts in `provider.claimSourceHosts` (default: the issuer's host and graph.microsoft.com)
 *   are asked, and only they ever see the user's access token; https only (plain http only on
 *   loopback, as for the issuer);
 * - redirects are not followed (a 3xx is a refusal: a redirect could reach an internal service);
 * - the answer is read up to 1 MiB, then the connection is dropped; the provider timeout applies;
 * - the answer must be a JWT (`application/jwt` or a compact JWS body) signed with the issuer's
 *   keys, for this subject; unsigned JSON is accepted only from graph.microsoft.com, whose answer
 *   TLS authenticates as Microsoft's (Graph never signs its answers).
 * Any failure is a ClaimSourceError; the caller decides (login: continue without the claim).
 */

export const MAX_CLAIM_SOURCE_BYTES = 1024 * 1024;

/** Hosts whose unsigned JSON answer is believed (over https): Microsoft Graph. */
const UNSIGNED_JSON_HOSTS: ReadonlySet<string> = new Set(['graph.microsoft.com']);

export class ClaimSourceError extends Error {
  constructor(
    /** Origin of the refused endpoint (never the path, never a token). */
    readonly source: string,
    reason: string,
  ) {
    super(reason);
    this.name = 'ClaimSourceError';
  }
}

export interface ClaimSourceOptions {
  issuer: string;
  /** `provider.claimSourceHosts`; undefined = the issuer's host and graph.microsoft.com. */
  allowedHosts: readonly string[] | undefined;
  timeoutMs: number;
  run: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The provider's transport (providerFetch.ts); default the global fetch. */
  fetch?: ProviderFetch | undefined;
  /** The provider's JWT verification (its JWKS cache and algorithms). */
  verifyJwt: (jwt: string) => Promise<JWTPayload>;
}

/** The effective allow-list, lower-cased: `host` (default port) or `host:port` entries. */
export function claimSourceHosts(issuer: string, configured: readonly string[] | undefined): string[] {
  return (configured ?? [new URL(issuer).host, 'graph.microsoft.com']).map((h) => h.toLowerCase());
}

/** Why `url` may not be asked, or undefined when it may. */
export function claimSourceRefusal(url: URL, hosts: readonly string[]): string | undefined {
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHostname(url.hostname))) {
    return `${url.protocol} is not https`;
  }
  if (url.username || url.password) return 'the endpoint carries credentials';
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const host = url.hostname.toLowerCase();
  const allowed = hosts.some((h) => {
    const withPort = /^(\[[^\]]+\]|[^:[\]]+):(\d+)$/.exec(h);
    return withPort ? withPort[1] === host && withPort[2] === port : h === host && url.port === '';
  });
  return allowed ? undefined : `${url.host} is not in provider.claimSourceHosts`;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Reads at most `limit` bytes of the body; beyond that the stream is cancelled and undefined returned. */
export async function readCapped(res: Response, limit: number): Promise<Buffer | undefined> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

export async function resolveDistributedClaims(
  claims: Record<string, unknown>,
  claimName: string,
  accessToken: string,
  opts: ClaimSourceOptions,
): Promise<Record<string, unknown>> {
  if (claims[claimName] !== undefined) return claims;
  const names = claims._claim_names as Record<string, unknown> | undefined;
  const sources = claims._claim_sources as
    | Record<string, { endpoint?: unknown; access_token?: unknown }>
    | undefined;
  const sourceId = names?.[claimName];
  if (typeof sourceId !== 'string' || !sources?.[sourceId]) return claims;
  const endpoint = sources[sourceId]!.endpoint;
  if (typeof endpoint !== 'string') return claims;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ClaimSourceError('(unparsable)', 'the endpoint is not an absolute URL');
  }
  const refusal = claimSourceRefusal(url, claimSourceHosts(opts.issuer, opts.allowedHosts));
  if (refusal) throw new ClaimSourceError(url.origin, refusal);
  const token =
    typeof sources[sourceId]!.access_token === 'string'
      ? String(sources[sourceId]!.access_token)
      : accessToken;
  let body: Buffer | undefined;
  let contentType: string;
  try {
    ({ body, contentType } = await opts.run(async () => {
      const res = await (opts.fetch ?? fetch)(url, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/jwt, application/json;q=0.5' },
        redirect: 'manual',
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
        await res.body?.cancel();
        throw new ClaimSourceError(
          url.origin,
          `answered a redirect (HTTP ${res.status}), which is not followed`,
        );
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new ClaimSourceError(url.origin, `answered HTTP ${res.status}`);
      }
      return {
        body: await readCapped(res, MAX_CLAIM_SOURCE_BYTES),
        contentType: (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase(),
      };
    }));
  } catch (err) {
    if (err instanceof ClaimSourceError) throw err;
    throw new ClaimSourceError(url.origin, `could not be read: ${describeCause(err)}`);
  }
  if (body === undefined) {
    throw new ClaimSourceError(url.origin, `answered more than ${MAX_CLAIM_SOURCE_BYTES} bytes`);
  }
  const text = body.toString('utf8').trim();
  let values: unknown;
  if (contentType === 'application/jwt' || COMPACT_JWS.test(text)) {
    let payload: JWTPayload;
    try {
      payload = await opts.verifyJwt(text);
    } catch (err) {
      throw new ClaimSourceError(url.origin, `answered a JWT that does not verify: ${describeCause(err)}`);
    }
    // Both are required: a signed answer that names no subject could be anyone's.
    if (payload.iss !== opts.issuer) {
      throw new ClaimSourceError(url.origin, 'answered a JWT from another issuer');
    }
    if (payload.sub !== claims.sub) {
      throw new ClaimSourceError(url.origin, 'answered a JWT about another subject');
    }
    values = (payload as Record<string, unknown>)[claimName];
  } else if (url.protocol === 'https:' && UNSIGNED_JSON_HOSTS.has(url.hostname.toLowerCase())) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ClaimSourceError(url.origin, 'answered something that is neither a JWT nor JSON');
    }
    const obj = json as Record<string, unknown> | unknown[] | null;
    values = Array.isArray(obj)
      ? obj
      : obj && typeof obj === 'object'
        ? (obj[claimName] ?? obj.value)
        : undefined;
  } else {
    throw new ClaimSourceError(
      url.origin,
      'answered unsigned content; a claim source must answer a JWT signed by the issuer',
    );
  }
  if (Array.isArray(values)) {
    values = values.map((v) =>
      typeof v === 'object' && v !== null
        ? ((v as Record<string, unknown>).displayName ?? (v as Record<string, unknown>).id)
        : v,
    );
  }
  return { ...claims, [claimName]: values };
}
