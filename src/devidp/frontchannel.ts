// Front-channel logout sender (OpenID Connect Front-Channel Logout 1.0): at end-session the
// IdP's page embeds the RP's frontchannel_logout_uri in an iframe, with `iss` and `sid`
// (frontchannel_logout_session_supported), so the RP ends that session in the user's browser.
// The IdP knows which session is signing out from the id_token_hint or, when the user comes to
// end-session directly, from its own browser-session cookie (set at login, below).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RegisteredClient } from './clients.js';
import type { IdpContext } from './context.js';
import { escapeHtml } from './http.js';

/**
 * The dev IdP's browser-session (SSO) cookie: the sid of the last login in this browser. No
 * Max-Age: it lasts as long as the browser session; the server-side session's expiry bounds it.
 * SameSite=Lax still sends it on the top-level redirect a prompt=none authorization is.
 */
export const SESSION_COOKIE = 'gatehouse_devidp_sid';

/**
 * A tenant's (`<root>/realms/main`) cookie is its own: scoped to its path and named after it, so
 * a browser logged in at one issuer has no SSO session at another, and the root's cookie (Path=/,
 * sent to every tenant too) is not the one a tenant reads.
 */
function issuerPath(issuer: string): string {
  return new URL(issuer).pathname.replace(/\/$/, '');
}

export function sessionCookieName(issuer: string): string {
  const path = issuerPath(issuer);
  return path === '' ? SESSION_COOKIE : `${SESSION_COOKIE}.${path.slice(1).replaceAll('/', '.')}`;
}

/** Secure only on an https issuer: the usual loopback http IdP would have its cookie dropped. */
function attributes(issuer: string): string {
  const path = issuerPath(issuer) || '/';
  return `Path=${path}; HttpOnly; SameSite=Lax${issuer.startsWith('https:') ? '; Secure' : ''}`;
}

export function sessionCookie(issuer: string, sid: string): string {
  return `${sessionCookieName(issuer)}=${sid}; ${attributes(issuer)}`;
}

export function clearSessionCookie(issuer: string): string {
  return `${sessionCookieName(issuer)}=; ${attributes(issuer)}; Max-Age=0`;
}

/** The sid in the request's cookie for `issuer`'s session, if any. */
export function sessionCookieSid(req: IncomingMessage, issuer: string): string | undefined {
  const name = sessionCookieName(issuer);
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{8,200}$/.test(v) ? v : undefined;
    }
  }
  return undefined;
}

/**
 * The iframe URL for one ended session of `client`'s, or undefined when that client registered no
 * frontchannel_logout_uri.
 */
export function frontchannelLogoutUrl(
  ctx: IdpContext,
  client: Pick<RegisteredClient, 'frontchannelLogoutUri'>,
  sid: string,
): string | undefined {
  const uri = client.frontchannelLogoutUri;
  if (uri === undefined) return undefined;
  const url = new URL(uri);
  url.searchParams.set('iss', ctx.issuer);
  url.searchParams.set('sid', sid);
  return url.href;
}

/**
 * The signed-out page with one iframe per RP to tell. With a post-logout target it moves on by
 * `<meta http-equiv=refresh>` — which runs after the load event, i.e. after every iframe loaded —
 * so the page needs no script. CSP: frames from the RP's origin only.
 */
export function sendFrontchannelPage(
  res: ServerResponse,
  frames: readonly string[],
  next: string | undefined,
  setCookie: string,
): void {
  const origins = [...new Set(frames.map((f) => new URL(f).origin))];
  const iframes = frames
    .map(
      (f) =>
        `<iframe class="rp-logout" src="${escapeHtml(f)}" title="Signing out of the application" width="1" height="1" style="border:0"></iframe>`,
    )
    .join('\n');
  const refresh = next === undefined ? '' : `<meta http-equiv="refresh" content="0;url=${escapeHtml(next)}">`;
  const link = next === undefined ? '' : `<p><a href="${escapeHtml(next)}">Continue</a></p>`;
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
${refresh}
<title>Signed out · Gatehouse dev IdP</title>
</head>
<body>
<main>
<h1>Signed out</h1>
<p>Your dev IdP session has ended; the applications you used are being told.</p>
${iframes}
${link}
</main>
</body>
</html>
`;
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; frame-src ${origins.join(' ')}; frame-ancestors 'none'`,
    'x-frame-options': 'DENY',
    'set-cookie': setCookie,
  });
  res.end(html);
}
