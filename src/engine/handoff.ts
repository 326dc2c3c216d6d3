import { splitHost } from '../authz/hostPattern.js';
import { TokenSealer } from '../session/tokenSealer.js';
import { randomToken, safeEqual, sha256b64url } from '../util/crypto.js';
import type { EngineContext } from './context.js';
import { readCookie, serializeCookie } from './cookies.js';
import type { Answer } from './decision.js';
import type { RequestFacts } from './facts.js';
import { hostAllowed } from './returnTo.js';

/**
 * One sign-in for every route host, with one redirect URI (Pomerium's authenticate hand-off).
 *
 * The callback is always publicUrl's, so the session cookie is first set there. A route host
 * under `session.cookieDomain` shares that cookie; any other host gets its own host-only cookie
 * through a ticket: after sign-in (or at once, when publicUrl's host already has a session) the
 * browser is sent to `https://<route host>/oauth2/session?ticket=…`, which sets the cookie there.
 *
 * A ticket is sealed (AES-GCM under the session secret), valid for TICKET_TTL_MS, single-use
 * (`markOnce` in the shared store, so every replica agrees) and bound to the browser that asked
 * for it: before leaving the route host, that browser got a random host-only *bind* cookie whose
 * hash travels through the sign-in and into the ticket. A ticket URL that leaks (a log, a
 * Referer, a link someone is sent to) is worthless in another browser, and nobody can sign a
 * victim's browser in to the attacker's session with one (login CSRF).
 */

const TICKET_TTL_MS = 60_000;
const SEAL_AAD = 'gatehouse/handoff-ticket';
export const HANDOFF_PATH = '/oauth2/session';

interface Ticket {
  /** The session cookie value to set on the route host. */
  c: string;
  /** The route host (lower-cased, port as in the URL). */
  h: string;
  /** sha256 of the bind cookie's value. */
  b: string;
  /** Where to land after (an absolute URL on `h`). */
  r: string;
  /** Expiry, ms since epoch. */
  e: number;
  /** Single-use id. */
  j: string;
}

/** Seals and opens tickets; one per set of session secrets. */
export class HandoffTickets {
  private readonly sealer: TokenSealer;

  constructor(secrets: string[]) {
    this.sealer = new TokenSealer(secrets);
  }

  seal(t: Ticket): string {
    return this.sealer.seal(JSON.stringify(t), SEAL_AAD);
  }

  open(value: string): Ticket | undefined {
    if (value.length > 4096) return undefined;
    try {
      const t = JSON.parse(this.sealer.open(value, SEAL_AAD)) as Ticket;
      return typeof t.c === 'string' && typeof t.h === 'string' && typeof t.b === 'string' ? t : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * Whether a browser on `host` cannot see the session cookie publicUrl's host sets: another host
 * name, outside `session.cookieDomain`.
 */
export function needsHandoff(ctx: EngineContext, host: string): boolean {
  const { name, port } = splitHost(host);
  if (name === '' || name === ctx.publicHostName) return false;
  const domain = ctx.jar.domain;
  if (domain && (name.endsWith(domain) || name === domain.slice(1))) return false;
  // `hb` at /oauth2/start is anyone's to choose, so a ticket minted for a signed-in browser may be
  // bound to an attacker's bind cookie: it must never be sent where someone else than Gatehouse
  // receives it. With `routes`, only route hosts get one (login.allowedRedirectHosts are plain
  // return targets then, maybe not behind Gatehouse: a plain redirect, no ticket); without, the
  // allow-listed hosts of a forward-auth deployment do. Either way only on a default port or
  // publicUrl's (or a route's own): another port of that name may be another service's.
  const ports = ['', '80', '443', new URL(ctx.cfg.publicUrl).port];
  if (ctx.routes.explicit) return ctx.routes.handsOffTo(name, port, ports);
  return ports.includes(port) && hostAllowed(name, ctx.cfg.login.allowedRedirectHosts);
}

/** The absolute URL of the request (front doors give a path, forward-auth an absolute URL). */
export function absoluteUrl(f: RequestFacts): string {
  if (!f.url.startsWith('/')) return f.url;
  return `${f.secure ? 'https' : 'http'}://${f.host}${f.url}`;
}

/**
 * A navigation on a route host without a session: bind this browser (a host-only cookie) and
 * send it to publicUrl's /oauth2/start, which signs in (or finds the session it has) and comes
 * back with a ticket.
 */
export function startHandoff(ctx: EngineContext, f: RequestFacts, setCookies: string[]): Answer {
  // The browser's bind cookie when it has one already: a second tab signing in at the same time
  // must not overwrite the first tab's (its ticket would then be for "another browser").
  const held = readCookie(f.cookieHeader, ctx.jar.bind);
  const bind = held && /^[A-Za-z0-9_-]{32}$/.test(held) ? held : randomToken(24);
  const start = new URL('/oauth2/start', ctx.cfg.publicUrl);
  start.searchParams.set('rd', absoluteUrl(f));
  start.searchParams.set('hb', sha256b64url(bind));
  return {
    type: 'redirect',
    location: start.href,
    setCookies: [
      ...setCookies,
      serializeCookie(ctx.jar, ctx.jar.bind, bind, ctx.cfg.login.flowTtlSeconds, true),
    ],
  };
}

/** The redirect to the route host's /oauth2/session with a fresh ticket for `sessionCookie`. */
export function ticketRedirect(
  ctx: EngineContext,
  sessionCookie: string,
  returnTo: string,
  bindHash: string,
  setCookies: string[],
): Answer {
  const target = new URL(returnTo);
  const ticket = ctx.handoff.seal({
    c: sessionCookie,
    h: target.host.toLowerCase(),
    b: bindHash,
    r: target.href,
    e: ctx.clock.now() + TICKET_TTL_MS,
    j: randomToken(16),
  });
  const location = new URL(HANDOFF_PATH, target.origin);
  location.searchParams.set('ticket', ticket);
  return { type: 'redirect', location: location.href, setCookies };
}

/** `hb` as given to /oauth2/start: a sha256 in base64url, or nothing. */
export function bindHashParam(v: string | null): string | undefined {
  return v && /^[A-Za-z0-9_-]{43}$/.test(v) ? v : undefined;
}

function refused(ctx: EngineContext, f: RequestFacts, why: string, retry: string | undefined): Answer {
  ctx.logger.info({ reqId: f.requestId, host: f.host }, `sign-in hand-off refused: ${why}`);
  return {
    type: 'error',
    status: 400,
    code: 'handoff_invalid',
    reason: `The sign-in link for this site is not valid (${why}). Open the page again to sign in.`,
    // The bind cookie stays: clearing it here would let any site break a sign-in under way in
    // another tab (a link to /oauth2/session?ticket=x), and it binds nothing but this browser.
    setCookies: [],
    ...(retry ? { signInUrl: retry } : {}),
  };
}

/**
 * GET /oauth2/session?ticket=… on a route host: checks the ticket (sealed, fresh, for this host,
 * for this browser, not used before) and sets this host's session cookie.
 */
export async function redeemHandoff(
  ctx: EngineContext,
  f: RequestFacts,
  ticketValue: string | null,
): Promise<Answer> {
  const t = ticketValue ? ctx.handoff.open(ticketValue) : undefined;
  if (!t) return refused(ctx, f, 'the ticket is malformed or was not issued here', undefined);
  const landing = new URL(t.r);
  const retry = landing.pathname + landing.search;
  if (t.e <= ctx.clock.now()) return refused(ctx, f, 'the ticket has expired', retry);
  if (t.h !== f.host.toLowerCase()) return refused(ctx, f, 'the ticket is for another site', undefined);
  const bind = readCookie(f.cookieHeader, ctx.jar.bind);
  if (!bind || !safeEqual(sha256b64url(bind), t.b)) {
    return refused(ctx, f, 'it was issued to another browser', retry);
  }
  if (!(await ctx.sessions.store.markOnce(`handoff:${t.j}`, TICKET_TTL_MS))) {
    return refused(ctx, f, 'the ticket was used already', retry);
  }
  return {
    type: 'redirect',
    location: t.r,
    setCookies: [
      // The bind cookie stays for other tabs' tickets; it expires with the login flow TTL.
      serializeCookie(ctx.jar, ctx.jar.session, t.c, ctx.cfg.session.maxAgeSeconds, true),
    ],
  };
}
