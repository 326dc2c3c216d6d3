import { AssertionCache } from '../assertion/assertionCache.js';
import { ASSERTION_HEADER } from '../assertion/settings.js';
import type { SignedAssertion } from '../assertion/signer.js';
import { exemptionCovers } from '../authz/pathPrefix.js';
import { pathReadings } from '../authz/pathReadings.js';
import { type AuthorizationPolicy, authorize } from '../authz/policy.js';
import type { ReloadableSettings } from '../config/reload.js';
import type { HeaderTemplates } from '../identity/headerTemplates.js';
import { headerSafe, identityHeaders } from '../identity/identity.js';
import type { Route, RouteHeaderSettings } from '../routes/route.js';
import { RouteTable } from '../routes/routeTable.js';
import type { SessionRecord } from '../session/record.js';
import { describeCause, GatehouseError } from '../util/errors.js';
import { authenticate, isAnswer } from './authenticate.js';
import { BackchannelLogout } from './backchannelLogout.js';
import type { EngineContext } from './context.js';
import { readCookie } from './cookies.js';
import { defaultCredentialChain } from './credentials/credentialChain.js';
import type { BearerCredential, CredentialLoader, Principal } from './credentials/credentialLoader.js';
import type { Answer, Decision, ErrorDecision } from './decision.js';
import type { RequestFacts } from './facts.js';
import { FrontchannelLogout } from './frontchannelLogout.js';
import {
  absoluteUrl,
  bindHashParam,
  HandoffTickets,
  needsHandoff,
  redeemHandoff,
  startHandoff,
  ticketRedirect,
} from './handoff.js';
import { beginLogin, completeLogin, signInUrl } from './login.js';
import { LoginCookieCodec } from './loginCookie.js';
import { logout } from './logout.js';
import { returnHosts } from './returnHosts.js';
import { safeReturnTo } from './returnTo.js';

export interface EngineOptions {
  /** The credential chain, in order (default: defaultCredentialChain, whose comment says why that order). */
  credentials?: readonly CredentialLoader[];
}

/** A route's computed upstream headers, per session record and per bearer principal. */
interface RouteHeaderCache {
  sessions: WeakMap<SessionRecord, Record<string, string>>;
  bearers: WeakMap<BearerCredential, Record<string, string>>;
}

/** No route for this host and path (404), or a path whose readings select different routes (400). */
function unrouted(why: 'none' | 'ambiguous'): ErrorDecision {
  return why === 'none'
    ? {
        type: 'error',
        status: 404,
        code: 'not_found',
        reason: 'No application is served at this address.',
        setCookies: [],
      }
    : {
        type: 'error',
        status: 400,
        code: 'bad_request',
        reason: 'The request path can be read as belonging to two different applications; it is refused.',
        setCookies: [],
      };
}

/**
 * The decision engine: `check(facts) → decision` for protected requests, plus the /oauth2/*
 * operations. Knows nothing of HTTP frameworks; front doors translate its decisions.
 */
export class Engine {
  private policy: AuthorizationPolicy;
  /**
   * Upstream headers per route and record object: computed once per session version and route,
   * not per request (routes may forward different headers).
   */
  private headerCaches = new Map<Route, RouteHeaderCache>();
  /** Assertions per session version (or bearer credential) and route, signed again when half-spent. */
  private readonly assertionCache: AssertionCache | undefined;
  /** The headers with the assertion, per assertion: a request with a cached one allocates nothing. */
  private withAssertion = new WeakMap<SignedAssertion, Record<string, string>>();
  private readonly backchannel: BackchannelLogout;
  private readonly frontchannel: FrontchannelLogout;
  private readonly credentials: readonly CredentialLoader[];

  constructor(
    readonly ctx: EngineContext,
    opts: EngineOptions = {},
  ) {
    this.policy = ctx.cfg.authorization;
    this.backchannel = new BackchannelLogout(ctx);
    this.frontchannel = new FrontchannelLogout(ctx);
    this.credentials = opts.credentials ?? defaultCredentialChain(ctx);
    this.assertionCache = ctx.assertions && new AssertionCache(ctx.assertions, ctx.clock);
  }

  /**
   * A re-read configuration's rules, exemptions, upstream headers and session secrets
   * (config/reload.ts), from the next request on. Sessions are untouched; the header caches start
   * afresh so no request gets headers made under the old settings. Changed secrets rotate the
   * session keys and the login cookie codec together, in this one synchronous step.
   */
  reconfigure(next: ReloadableSettings): void {
    const was = this.ctx.cfg.session;
    if (was.secret !== next.session.secret || !sameList(was.previousSecrets, next.session.previousSecrets)) {
      const secrets = [next.session.secret, ...next.session.previousSecrets];
      this.ctx.sessions.rotateSecrets(secrets);
      this.ctx.loginCookies = new LoginCookieCodec(secrets);
      this.ctx.handoff = new HandoffTickets(secrets);
    }
    this.ctx.cfg = {
      ...this.ctx.cfg,
      authorization: next.authorization,
      skipAuth: next.skipAuth,
      headers: next.headers,
      logging: next.logging,
      session: next.session,
    };
    if (next.routes !== undefined) this.ctx.cfg.routes = next.routes;
    this.policy = next.authorization;
    // Routes take the global headers and identity matching as their defaults: rebuilt with them.
    this.ctx.routes = new RouteTable(this.ctx.cfg);
    this.ctx.sessions.keepClaims(this.ctx.routes.keptClaims());
    this.headerCaches = new Map();
    this.assertionCache?.clear();
    this.withAssertion = new WeakMap();
  }

  /**
   * Route by host and path, authenticate, refresh when due, authorize for `facts.path` under the
   * global policy and the route's.
   */
  check(f: RequestFacts): Promise<Decision> {
    const tracing = this.ctx.tracing;
    if (!tracing?.enabled) return this.decide(f);
    return tracing.span('gatehouse.decision', 'internal', {}, async (span) => {
      const d = await this.decide(f);
      const named = {
        'gatehouse.decision': d.type,
        'gatehouse.route.id': d.type === 'allow' ? d.route.id : undefined,
      };
      span.setAttributes(named);
      tracing.annotateRequest(named);
      return d;
    });
  }

  private decide(f: RequestFacts): Promise<Decision> {
    return this.guard(f, async (): Promise<Decision> => {
      // Every reading of the path, once per request: routing, skipAuth and the rules all decide on them.
      const readings = pathReadings(f.path);
      const selected = this.ctx.routes.select(f.host, readings);
      if (selected.type !== 'route') return unrouted(selected.type);
      const route = selected.route;
      if (
        route.methodsWithoutAuth.has(f.method) ||
        this.ctx.cfg.skipAuth.some((p) => exemptionCovers(readings, p)) ||
        route.skipAuth.some((p) => exemptionCovers(readings, p))
      ) {
        return { type: 'allow', identity: undefined, upstreamHeaders: {}, setCookies: [], route };
      }
      const a = await authenticate(this.ctx, this.credentials, f);
      if (isAnswer(a)) return a;
      let verdict = authorize(this.policy, a.identity, readings, a.scopes);
      if (verdict.ok && route.policy) verdict = authorize(route.policy, a.identity, readings, a.scopes);
      if (!verdict.ok) {
        this.ctx.logger.info(
          { reqId: f.requestId, user: a.identity.user, path: f.path, route: route.id },
          `access denied: ${verdict.reason}`,
        );
        if (a.bearer) {
          // RFC 6750 §3.1: a token that does not grant this request. No sign-in link: a program holds it.
          const scope = verdict.requiredScopes?.join(' ');
          return {
            type: 'error',
            status: 403,
            code: 'insufficient_scope' as const,
            reason: `Access denied: ${verdict.reason}.`,
            setCookies: [],
            bearer: scope
              ? { error: 'insufficient_scope', description: verdict.reason, scope }
              : { error: 'insufficient_scope', description: verdict.reason },
          };
        }
        return {
          type: 'error',
          status: 403,
          code: 'forbidden' as const,
          reason: `Access denied: ${verdict.reason}.`,
          setCookies: a.setCookies,
          signInUrl: signInUrl(f.url),
        };
      }
      const allow: Decision = {
        type: 'allow',
        identity: a.identity,
        // Without assertions the headers are ready (cached): no promise to wait for.
        upstreamHeaders: this.assertionCache
          ? await this.headersWithAssertion(a, route, this.assertionCache)
          : this.identityHeadersFor(a, route),
        setCookies: a.setCookies,
        route,
      };
      if (a.session) allow.sessionKey = a.session.key;
      // A WebSocket opened with a bearer token is re-checked like a session's, and closed once the token has expired.
      else if (a.bearer) allow.sessionKey = `bearer:${a.bearer.hash}`;
      return allow;
    });
  }

  /** The identity of the current session as JSON (no path authorization). */
  userinfo(f: RequestFacts): Promise<Answer> {
    return this.guard(f, async () => {
      const a = await authenticate(this.ctx, this.credentials, {
        ...f,
        accept: 'application/json',
        secFetchMode: 'cors',
      });
      if (isAnswer(a)) return a;
      const id = a.identity;
      return {
        type: 'json',
        status: 200,
        body: {
          user: id.user,
          sub: id.sub,
          email: id.email,
          emailVerified: id.emailVerified,
          name: id.name,
          preferredUsername: id.preferredUsername,
          groups: id.groups,
          roles: id.roles,
          expiresAt: new Date(a.expiresAt).toISOString(),
        },
        setCookies: a.setCookies,
      };
    });
  }

  /**
   * /oauth2/start. On a route host the session cookie of publicUrl's host does not reach, the
   * browser is bound and sent to publicUrl's host first (handoff.ts); there, with `hb` (the bind
   * hash), a browser that is signed in already gets its ticket at once, without the provider.
   */
  start(
    f: RequestFacts,
    rd: string | null,
    userInitiated: boolean,
    hb: string | null = null,
  ): Promise<Answer> {
    return this.guard(f, async () => {
      const ctx = this.ctx;
      if (needsHandoff(ctx, f.host)) {
        const here = new URL(absoluteUrl(f));
        const back = safeReturnTo(rd ? new URL(rd, here).href : '/', ctx.cfg.publicUrl, returnHosts(ctx));
        return startHandoff(ctx, { ...f, url: back.startsWith('/') ? `${here.origin}/` : back }, []);
      }
      const bind = bindHashParam(hb);
      if (bind) {
        const returnTo = safeReturnTo(rd, ctx.cfg.publicUrl, returnHosts(ctx));
        if (/^https?:/.test(returnTo) && needsHandoff(ctx, new URL(returnTo).host)) {
          const cookie = readCookie(f.cookieHeader, ctx.jar.session);
          if (cookie) {
            const a = await authenticate(ctx, this.credentials, {
              ...f,
              authorization: undefined,
              accept: 'application/json',
              secFetchMode: 'cors',
            });
            if (!isAnswer(a) && a.session) return ticketRedirect(ctx, cookie, returnTo, bind, a.setCookies);
          }
          return beginLogin(ctx, f, returnTo, userInitiated, { bind });
        }
      }
      return beginLogin(ctx, f, rd, userInitiated);
    });
  }

  /** GET /oauth2/session?ticket=… on a route host (handoff.ts). */
  redeemHandoff(f: RequestFacts, ticket: string | null): Promise<Answer> {
    return this.guard(f, () => redeemHandoff(this.ctx, f, ticket));
  }

  callback(f: RequestFacts, callbackUrl: URL): Promise<Answer> {
    return this.guard(f, () => completeLogin(this.ctx, f, callbackUrl));
  }

  logout(f: RequestFacts): Promise<Answer> {
    return this.guard(f, () => logout(this.ctx, f));
  }

  /** POST /oauth2/backchannel-logout with the form body already read. */
  backchannelLogout(f: RequestFacts, form: URLSearchParams): Promise<Answer> {
    return this.guard(f, () => this.backchannel.handle(form));
  }

  /** GET /oauth2/frontchannel-logout?iss=&sid= (see frontchannelLogout.ts). */
  frontchannelLogout(f: RequestFacts, query: URLSearchParams): Promise<Answer> {
    return this.guard(f, () => this.frontchannel.handle(query));
  }

  /**
   * The route's headers, plus — with `headers.assertion` — X-Gatehouse-Assertion with the route's
   * id as its `aud`. The assertion is cached next to the headers, per session version or bearer
   * credential and route (assertionCache.ts says why a session is named, not keyed by its record
   * object), and signed again only when less than half its lifetime is left: signing is not on
   * every request's path.
   */
  private async headersWithAssertion(
    p: Principal,
    route: Route,
    assertions: AssertionCache,
  ): Promise<Record<string, string>> {
    const h = this.identityHeadersFor(p, route);
    // A session by its key and record version (a refresh is a new version); a bearer principal by its cached credential.
    const principal = p.bearer ?? (p.session && `${p.session.key}#${p.session.record.version}`);
    if (!principal) return h;
    const signed = await assertions.get(principal, p.identity, route.id);
    let out = this.withAssertion.get(signed);
    if (!out) {
      out = { ...h, [ASSERTION_HEADER]: signed.token };
      this.withAssertion.set(signed, out);
    }
    return out;
  }

  /**
   * A session's headers are computed once per record and route; a bearer principal's once per
   * cached principal and route. A bearer request forwards its own token when `headers.pass*` say
   * so. The route's templated headers (global `headers.templates` and its own) are rendered with
   * them, cached alike.
   */
  private identityHeadersFor(p: Principal, route: Route): Record<string, string> {
    let caches = this.headerCaches.get(route);
    if (!caches) {
      caches = { sessions: new WeakMap(), bearers: new WeakMap() };
      this.headerCaches.set(route, caches);
    }
    const cfg: RouteHeaderSettings = route.headers;
    const templates = route.templates;
    if (p.bearer) {
      let h = caches.bearers.get(p.bearer);
      if (!h) {
        h = identityHeaders(p.identity, cfg.maxGroupsHeaderBytes);
        if (p.bearer.clientId) h['x-forwarded-client-id'] = headerSafe(p.bearer.clientId);
        if (cfg.passAccessToken) h['x-forwarded-access-token'] = p.bearer.token;
        if (cfg.passAuthorizationHeader) h.authorization = `Bearer ${p.bearer.token}`;
        Object.assign(h, this.templateHeaders(templates, p));
        caches.bearers.set(p.bearer, h);
      }
      return h;
    }
    // A credential without a session has no tokens of ours to forward: identity headers only.
    if (!p.session) {
      return Object.assign(
        identityHeaders(p.identity, cfg.maxGroupsHeaderBytes),
        this.templateHeaders(templates, p),
      );
    }
    const rec = p.session.record;
    let h = caches.sessions.get(rec);
    if (!h) {
      h = identityHeaders(rec.identity, cfg.maxGroupsHeaderBytes);
      if (cfg.passAccessToken || cfg.passAuthorizationHeader) {
        const { accessToken } = this.ctx.sessions.tokens(rec);
        if (cfg.passAccessToken) h['x-forwarded-access-token'] = accessToken;
        if (cfg.passAuthorizationHeader) h.authorization = `Bearer ${accessToken}`;
      }
      Object.assign(h, this.templateHeaders(templates, p));
      caches.sessions.set(rec, h);
    }
    return h;
  }

  /**
   * One principal's templated headers, for any set of templates (the global `headers.templates`
   * today; a route's own later). Claims: the session record's kept claims, or the bearer token's.
   * Tokens are opened only when a template uses one. A header left out is logged at debug with
   * why, never with its value.
   */
  private templateHeaders(templates: HeaderTemplates, p: Principal): Record<string, string> {
    if (templates.names.length === 0) return {};
    const rec = p.session?.record;
    return templates.render({
      claims: rec ? rec.claims : p.claims,
      tokens: () => {
        if (p.bearer) return { accessToken: p.bearer.token };
        return rec ? this.ctx.sessions.tokens(rec) : {};
      },
      onOmitted: (header, reason) =>
        this.ctx.logger.debug({ header, reason, user: p.identity.user }, 'templated header left out'),
    });
  }

  /** Typed errors become error decisions; anything unexpected is logged and answered 500 (never a crash). */
  private async guard<T extends Decision>(f: RequestFacts, fn: () => Promise<T>): Promise<T | ErrorDecision> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GatehouseError) {
        this.ctx.logger.warn({ reqId: f.requestId, code: err.code, err: err.message }, err.publicReason);
        const d: ErrorDecision = {
          type: 'error',
          status: err.status,
          code: err.code,
          reason: err.publicReason,
          setCookies: [],
        };
        // Store or provider briefly unavailable: tell clients when to come back.
        if (err.status === 503) d.retryAfterSec = 2;
        return d;
      }
      this.ctx.logger.error({ reqId: f.requestId, err: describeCause(err) }, 'unexpected error');
      return {
        type: 'error',
        status: 500,
        code: 'provider_error',
        reason: 'Something went wrong on our side. Please retry.',
        setCookies: [],
      };
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
