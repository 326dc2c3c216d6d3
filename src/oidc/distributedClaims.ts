/**
 * OIDC Core §5.6.2 distributed claims, as Entra ID uses them for "group overage": above ~200
 * groups the ID token carries `_claim_names: {groups: "src1"}` and
 * `_claim_sources: {src1: {endpoint}}` instead of the groups. We fetch the endpoint with the
 * access token and put the list where the groups claim would have been.
 */
export async function resolveDistributedClaims(
  claims: Record<string, unknown>,
  claimName: string,
  accessToken: string,
  opts: { issuer: string; timeoutMs: number; run: <T>(fn: () => Promise<T>) => Promise<T> },
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
  const url = new URL(endpoint);
  // The endpoint comes from a signed ID token; still refuse plain http off the issuer's origin.
  if (url.protocol !== 'https:' && url.origin !== new URL(opts.issuer).origin) {
    throw new Error(`distributed claim endpoint ${url.origin} is not https`);
  }
  const token =
    typeof sources[sourceId]!.access_token === 'string'
      ? String(sources[sourceId]!.access_token)
      : accessToken;
  const res = await opts.run(() =>
    fetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(opts.timeoutMs),
    }),
  );
  if (!res.ok) throw new Error(`distributed claim endpoint answered ${res.status}`);
  const body = (await res.json()) as Record<string, unknown> | unknown[];
  let values: unknown = Array.isArray(body) ? body : (body[claimName] ?? body.value);
  if (Array.isArray(values)) {
    values = values.map((v) =>
      typeof v === 'object' && v !== null
        ? ((v as Record<string, unknown>).displayName ?? (v as Record<string, unknown>).id)
        : v,
    );
  }
  return { ...claims, [claimName]: values };
}
