import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Decision } from '../engine/decision.js';
import type { Engine } from '../engine/engine.js';
import type { RequestFacts } from '../engine/facts.js';
import type { TargetRules } from '../engine/requestTarget.js';
import { IDENTITY_HEADER_NAMES } from '../identity/identity.js';
import { answer, appendSetCookies, audienceOf, logAllowed } from './answer.js';
import { forwardedFactsFromNode } from './requestFacts.js';
import type { RequestLog } from './requestLog.js';
import type { Audience } from './respond.js';

/**
 * nginx `auth_request`: 2xx allows, 401 and 403 are handed to `error_page`, anything else
 * becomes a 500 at nginx. It cannot relay a redirect, so unauthenticated requests always get 401.
 */
export const AUTH_REQUEST_PATH = '/oauth2/auth';
/**
 * Traefik `forwardAuth` / Caddy `forward_auth`: 2xx allows, any other answer goes to the client
 * as is, so unauthenticated navigations get the 302 to the identity provider directly.
 */
export const FORWARD_AUTH_PATH = '/oauth2/forward-auth';

/**
 * oauth2-proxy's `--set-xauthrequest` answer headers and the identity header each one mirrors.
 * The access token only when Gatehouse forwards it at all (`headers.passAccessToken`).
 */
const OAUTH2_PROXY_NAMES: ReadonlyArray<readonly [string, string]> = [
  ['x-forwarded-user', 'x-auth-request-user'],
  ['x-forwarded-email', 'x-auth-request-email'],
  ['x-forwarded-preferred-username', 'x-auth-request-preferred-username'],
  ['x-forwarded-groups', 'x-auth-request-groups'],
  ['x-forwarded-access-token', 'x-auth-request-access-token'],
];

export type ForwardAuthStyle = 'auth-request' | 'forward-auth';

export interface ForwardAuthDeps {
  engine: Engine;
  /** Cookie `Secure`/name choice, from publicUrl (as for every other request). */
  secure: boolean;
  /** `proxy.allowEncodedPercent`, for the described target as for any other. */
  target?: TargetRules;
}

/**
 * Ask the engine for the API shape of its answer. nginx cannot pass a redirect on to the
 * browser, so there is no point in the engine starting a login flow (a stored `state`, a login
 * cookie) that nobody will ever see: the 401 goes to nginx's `error_page`, which asks
 * /oauth2/forward-auth again with the client's real headers.
 */
function asApiRequest(f: RequestFacts): RequestFacts {
  return { ...f, secFetchMode: 'cors', secFetchDest: 'empty' };
}

/**
 * The forward-auth front door. It translates, it does not decide: the facts come from the
 * forwarded headers (normalised like every other path), the decision from `engine.check`, the
 * same call the reverse proxy makes, so skip-auth, refresh (single flight), authorization and
 * error routing are identical. On allow the identity headers and any Set-Cookie from the decision
 * are answered for the proxy to copy; everything else is rendered like the reverse proxy does.
 */
export async function handleForwardAuth(
  deps: ForwardAuthDeps,
  style: ForwardAuthStyle,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  log: RequestLog,
): Promise<void> {
  const built = forwardedFactsFromNode(
    req,
    deps.secure,
    requestId,
    deps.secure ? 'https' : 'http',
    deps.target,
    style === 'auth-request',
  );
  if (!built.ok) {
    // A refused target (`#`, backslash, `%25`) is answered like the request it describes; a
    // malformed description is the proxy's mistake and gets JSON.
    const audience: Audience = style === 'forward-auth' && built.facts ? audienceOf(built.facts) : 'json';
    return answer(
      res,
      { type: 'error', status: 400, code: 'bad_request', reason: built.reason, setCookies: [] },
      audience,
      requestId,
      log,
      'forward_auth_bad_request',
    );
  }
  const f = built.facts;
  const d: Decision = await deps.engine.check(style === 'auth-request' ? asApiRequest(f) : f);
  if (d.type === 'allow') {
    logAllowed(log, d);
    res.statusCode = style === 'auth-request' ? 202 : 200;
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-request-id', requestId);
    appendSetCookies(res, d.setCookies);
    // Every identity header is answered, empty when there is nothing to say (no groups, a
    // skip-auth path): nginx then drops it, and Caddy 2.6's `copy_headers` copies the empty value
    // instead of its own unresolved placeholder text ("{http.reverse_proxy.header.X-…}").
    for (const name of IDENTITY_HEADER_NAMES) res.setHeader(name, d.upstreamHeaders[name] ?? '');
    // The templated headers too (headers.templates), empty when a template was left out.
    for (const name of d.route.templates.names) res.setHeader(name, d.upstreamHeaders[name] ?? '');
    for (const [name, value] of Object.entries(d.upstreamHeaders)) res.setHeader(name, value);
    // oauth2-proxy's names next to ours, so an nginx configuration written for it
    // (`auth_request_set $user $upstream_http_x_auth_request_user;`) works unchanged.
    for (const [ours, theirs] of OAUTH2_PROXY_NAMES) {
      const value = d.upstreamHeaders[ours];
      if (value !== undefined || theirs !== 'x-auth-request-access-token') res.setHeader(theirs, value ?? '');
    }
    res.setHeader('content-length', 0);
    res.end();
    return;
  }
  answer(res, d, style === 'forward-auth' ? audienceOf(f) : 'json', requestId, log);
}
