import type { ServerResponse } from 'node:http';
import type { BearerChallenge, Decision } from '../engine/decision.js';
import { renderPage, TITLES } from './pages.js';

/** How an answer is shaped: HTML pages for browsers navigating, JSON for everything else. */
export type Audience = 'page' | 'json';

/**
 * Security headers of every answer Gatehouse writes itself (pages, JSON, redirects; never on
 * proxied upstream responses): never framed (clickjacking), never content-sniffed, and no
 * `Referer` with a query (state, codes) leaves a Gatehouse page. Pages add what they need.
 */
const ANSWER_CSP = "default-src 'none'; frame-ancestors 'none'";
/** Pages: inline styles only, no script; forms (the logout confirmation) post to us only. */
export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'";
/** The same headers as raw header lines, for answers written straight to a socket. */
export const RAW_SECURITY_HEADERS = `content-security-policy: ${ANSWER_CSP}\r\nx-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\n`;

function baseHeaders(res: ServerResponse, requestId: string, setCookies: string[]): void {
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-request-id', requestId);
  res.setHeader('content-security-policy', ANSWER_CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  if (setCookies.length) res.setHeader('set-cookie', setCookies);
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.statusCode = status;
  res.setHeader('content-type', type);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  requestId: string,
  setCookies: string[] = [],
): void {
  baseHeaders(res, requestId, setCookies);
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

/**
 * A public document others may cache for `maxAgeSeconds` (the assertion JWKS): the answer
 * headers of `sendJson`, but `Cache-Control: max-age` instead of `no-store`.
 */
export function sendCacheableJson(
  res: ServerResponse,
  body: unknown,
  requestId: string,
  maxAgeSeconds: number,
): void {
  baseHeaders(res, requestId, []);
  res.setHeader('cache-control', `public, max-age=${maxAgeSeconds}`);
  send(res, 200, 'application/json', JSON.stringify(body));
}

/** Writes any non-allow decision. */
export function respond(
  res: ServerResponse,
  d: Exclude<Decision, { type: 'allow' }>,
  audience: Audience,
  requestId: string,
): void {
  baseHeaders(res, requestId, d.setCookies);
  switch (d.type) {
    case 'redirect':
      res.setHeader('location', d.location);
      if (audience === 'page') {
        // A page with the same link, for when the status does not reach the browser as a 3xx:
        // nginx's `error_page 401 =403 /oauth2/sign_in` (oauth2-proxy's classic example) sends
        // our sign-in redirect on as a 403, whose Location no browser follows.
        res.setHeader('content-security-policy', PAGE_CSP);
        send(
          res,
          d.status ?? 302,
          'text/html; charset=utf-8',
          renderPage({
            status: d.status ?? 302,
            title: 'Continue',
            message: 'Your browser should have gone on by itself.',
            requestId,
            link: { href: d.location, text: 'Continue' },
          }),
        );
        return;
      }
      res.statusCode = d.status ?? 302;
      res.setHeader('content-length', 0);
      res.end();
      return;
    case 'json':
      send(res, d.status, 'application/json; charset=utf-8', JSON.stringify(d.body));
      return;
    case 'page':
      res.setHeader(
        'content-security-policy',
        d.form?.redirectsTo?.length ? `${PAGE_CSP} ${d.form.redirectsTo.join(' ')}` : PAGE_CSP,
      );
      if (d.frameAncestors?.length) {
        const csp = String(res.getHeader('content-security-policy'));
        res.setHeader(
          'content-security-policy',
          csp.replace("frame-ancestors 'none'", `frame-ancestors ${d.frameAncestors.join(' ')}`),
        );
      }
      // A form's POST must carry our Origin (not `null`) for browsers without fetch metadata.
      if (d.form) res.setHeader('referrer-policy', 'same-origin');
      send(res, d.status, 'text/html; charset=utf-8', renderPage({ ...d, requestId }));
      return;
    case 'error': {
      if (d.retryAfterSec !== undefined) res.setHeader('retry-after', String(d.retryAfterSec));
      if (d.bearer?.error) {
        res.setHeader('www-authenticate', bearerChallenge(d.bearer));
      } else if (d.challenge) {
        const ours = `Gatehouse realm="gatehouse", login_url="${d.signInUrl ?? '/oauth2/start'}"`;
        // One field with both challenges (RFC 7235 §4.1), not two: nginx's auth_request passes
        // only the first WWW-Authenticate of its subrequest on.
        res.setHeader('www-authenticate', d.offersBearer ? `${ours}, Bearer realm="gatehouse"` : ours);
      }
      // A bearer request comes from a program: JSON whatever its Accept says.
      if (audience === 'json' || d.bearer) {
        const body: Record<string, unknown> = { error: d.code, reason: d.reason, requestId };
        if (d.signInUrl && (d.status === 401 || d.status === 403)) body.signIn = d.signInUrl;
        send(res, d.status, 'application/json; charset=utf-8', JSON.stringify(body));
        return;
      }
      res.setHeader('content-security-policy', PAGE_CSP);
      const link = d.signInUrl
        ? { href: d.signInUrl, text: d.status === 403 ? 'Sign in as someone else' : 'Sign in again' }
        : d.status >= 500
          ? { href: '/', text: 'Back to the start page' }
          : undefined;
      send(
        res,
        d.status,
        'text/html; charset=utf-8',
        renderPage({
          status: d.status,
          title: TITLES[d.status] ?? 'Error',
          message: d.reason,
          requestId,
          link,
        }),
      );
    }
  }
}

/** RFC 6750 §3: only %x20-21 / %x23-5B / %x5D-7E may appear in a quoted value. */
function quotable(v: string): string {
  return v.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '').slice(0, 300);
}

/** `Bearer realm="gatehouse", error="…", error_description="…"[, scope="…"]` */
export function bearerChallenge(b: BearerChallenge): string {
  let h = `Bearer realm="gatehouse"`;
  if (b.error) h += `, error="${b.error}"`;
  if (b.description) h += `, error_description="${quotable(b.description)}"`;
  if (b.scope) h += `, scope="${quotable(b.scope)}"`;
  return h;
}
