/**
 * Finds a claim by name. A name that exists as-is wins (so namespaced claims such as
 * `https://example.com/groups` work even though they contain dots); otherwise it is read as a
 * dotted path into nested objects (`realm_access.roles`, `resource_access.app.roles`).
 */
export function readClaim(claims: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let cur: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    if (!Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
