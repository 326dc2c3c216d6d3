/**
 * The few facts about a request that the decision engine needs. Built once per request by a
 * front door (proxy, forward-auth, middleware); the engine never sees a framework object.
 */
export interface RequestFacts {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Path plus query, as the client asked for it (used for the return URL after login). */
  url: string;
  host: string;
  secure: boolean;
  cookieHeader: string | undefined;
  /**
   * `Authorization`, as sent: what a bearer-token credential loader reads (see
   * engine/credentials). Never logged.
   */
  authorization: string | undefined;
  accept: string | undefined;
  secFetchMode: string | undefined;
  secFetchDest: string | undefined;
  xRequestedWith: string | undefined;
  /** `Sec-Fetch-Site` (same-origin, same-site, cross-site, none): who initiated the request. */
  secFetchSite: string | undefined;
  /** `Origin`, as sent (`null` for an opaque origin). */
  origin: string | undefined;
  /** `Referer`, as sent. */
  referer: string | undefined;
  clientIp: string;
  requestId: string;
}

/**
 * Navigation: a top-level page load that can follow a redirect to the IdP. Everything else is an
 * API call (fetch, XHR, EventSource, image...) that gets a 401 instead: a script cannot follow a
 * cross-origin login page, and redirect storms hurt the IdP. This only chooses *how* an
 * unauthenticated request is answered — never *whether* authentication runs.
 */
export function isNavigation(f: RequestFacts): boolean {
  if (f.method !== 'GET' && f.method !== 'HEAD') return false;
  if (f.secFetchMode)
    return f.secFetchMode === 'navigate' && (!f.secFetchDest || f.secFetchDest === 'document');
  if (f.xRequestedWith) return false;
  return f.accept?.includes('text/html') === true;
}
