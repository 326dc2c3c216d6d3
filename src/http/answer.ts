import type { ServerResponse } from 'node:http';
import onHeaders from 'on-headers';
import type { Answer, Decision } from '../engine/decision.js';
import { isNavigation, type RequestFacts } from '../engine/facts.js';
import type { RequestLog } from './requestLog.js';
import { type Audience, respond } from './respond.js';

/**
 * The front-door kit: the one place a decision becomes an answer, so that every door (reverse
 * proxy, forward-auth, middleware, Fastify) labels, shapes and cookies it the same way. A door
 * only says how its framework hands over the request and lets the application run.
 */

export type AllowDecision = Extract<Decision, { type: 'allow' }>;

/** Pages for browsers navigating, JSON for everything else (see isNavigation). */
export function audienceOf(f: RequestFacts): Audience {
  return isNavigation(f) ? 'page' : 'json';
}

/** The `decision` of the request log line and of `gatehouse_requests_total`. */
export function decisionLabel(d: Decision): string {
  return d.type === 'error' ? d.code : d.type;
}

/**
 * Writes a decision that is answered by Gatehouse itself (everything but allow) and labels the
 * request with it; `label` names requests whose label is not the decision's own (userinfo, a
 * forward-auth request the proxy described badly).
 */
export function answer(
  res: ServerResponse,
  d: Answer,
  audience: Audience,
  requestId: string,
  log: RequestLog,
  label: string = decisionLabel(d),
): void {
  log.decision = label;
  respond(res, d, audience, requestId);
}

/** An allowed request: labelled `allow`, with the user it was allowed for. */
export function logAllowed(log: RequestLog, d: AllowDecision): void {
  log.decision = 'allow';
  if (d.identity) log.user = d.identity.user;
}

/**
 * An allow decision's own cookies, appended to the Set-Cookie values already on `res` (the
 * upstream's, in the reverse proxy), never replacing them.
 */
export function appendSetCookies(res: ServerResponse, cookies: readonly string[]): void {
  if (!cookies.length) return;
  // A fresh list rather than `res.appendHeader`: that pushes onto the array the application
  // passed to `setHeader`, which may be its own constant, growing by our cookies every request.
  const current = res.getHeader('set-cookie');
  const theirs = current === undefined ? [] : Array.isArray(current) ? current : [String(current)];
  res.setHeader('set-cookie', [...theirs, ...cookies]);
}

/**
 * The same, for a door that hands the response to the application (middleware, Fastify): the
 * cookies are appended when the headers go out, after whatever the application set, so an
 * application's `res.setHeader('set-cookie', …)` neither replaces nor is replaced by ours.
 */
export function appendSetCookiesWhenSent(res: ServerResponse, cookies: readonly string[]): void {
  if (cookies.length) onHeaders(res, () => appendSetCookies(res, cookies));
}
