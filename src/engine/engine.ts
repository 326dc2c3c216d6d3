import { exemptionCovers } from '../authz/pathPrefix.js';
import { pathReadings } from '../authz/pathReadings.js';
import { type AuthorizationPolicy, authorize } from '../authz/policy.js';
import type { ReloadableSettings } from '../config/reload.js';
import { headerSafe, identityHeaders } from '../identity/identity.js';
import type { SessionRecord } from '../session/record.js';
import { describeCause, GatehouseError } from '../util/errors.js';
import { authenticate, isAnswer } from './authenticate.js';
import { BackchannelLogout } from './backchannelLogout.js';
import type { EngineContext } from './context.js';
import { defaultCredentialChain } from './credentials/credentialChain.js';
import type { BearerCredential, CredentialLoader, Principal } from './credentials/credentialLoader.js';
import type { Answer, Decision, ErrorDecision } from './decision.js';
import type { RequestFacts } from './facts.js';
import { FrontchannelLogout } from './frontchannelLogout.js';
import { beginLogin, completeLogin, signInUrl } from './login.js';
import { LoginCookieCodec } from './loginCookie.js';
import { logout } from './logout.js';

export interface EngineOptions {
  /** The credential chain, in order (default: defaultCredentialChain, whose comment says why that order). */
  credentials?: readonly CredentialLoader[];
}

/**
 * The decision engine: `check(facts) → decision` for protected requests, plus the /oauth2/*
 * operations. Knows nothing of HTTP frameworks; front doors translate its decisions.
 */
export class Engine {
  private policy: AuthorizationPolicy;
  /** Upstream headers per record object: computed once per session version, not per request. */
  private headerCache = new WeakMap<SessionRecord, Record<string, string>>();
  private bearerHeaderCache = new WeakMap<BearerCredential, Record<string, string>>();
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
    }
    this.ctx.cfg = {
      ...this.ctx.cfg,
      authorization: next.authorization,
      skipAuth: next.skipAuth,
      headers: next.headers,
      logging: next.logging,
      session: next.session,
    };
    this.policy = next.authorization;
    this.headerCache = new WeakMap();
    this.bearerHeaderCache = new WeakMap();
  }

  /** Authenticate, refresh when due, authorize for `facts.path`. */
  check(f: RequestFacts): Promise<Decision> {
    return this.guard(f, async (): Promise<Decision> => {
      // Every reading of the path, once per request: skipAuth and the rules all decide on them.
      const readings = pathReadings(f.path);
      if (this.ctx.cfg.skipAuth.some((p) => exemptionCovers(readings, p))) {
        return { type: 'allow', identity: undefined, upstreamHeaders: {}, setCookies: [] };
      }
      const a = await authenticate(this.ctx, this.credentials, f);
      if (isAnswer(a)) return a;
      const verdict = authorize(this.policy, a.identity, readings, a.scopes);
      if (!verdict.ok) {
        this.ctx.logger.info(
          { reqId: f.requestId, user: a.identity.user, path: f.path },
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
        upstreamHeaders: this.headersFor(a),
        setCookies: a.setCookies,
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

  start(f: RequestFacts, rd: string | null, userInitiated: boolean): Promise<Answer> {
    return this.guard(f, () => beginLogin(this.ctx, f, rd, userInitiated));
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
   * A session's headers are computed once per record; a bearer principal's once per cached
   * principal. A bearer request forwards its own token when `headers.pass*` say so.
   */
  private headersFor(p: Principal): Record<string, string> {
    if (p.bearer) {
      let h = this.bearerHeaderCache.get(p.bearer);
      if (!h) {
        const cfg = this.ctx.cfg.headers;
        h = identityHeaders(p.identity, cfg.maxGroupsHeaderBytes);
        if (p.bearer.clientId) h['x-forwarded-client-id'] = headerSafe(p.bearer.clientId);
        if (cfg.passAccessToken) h['x-forwarded-access-token'] = p.bearer.token;
        if (cfg.passAuthorizationHeader) h.authorization = `Bearer ${p.bearer.token}`;
        this.bearerHeaderCache.set(p.bearer, h);
      }
      return h;
    }
    // A credential without a session has no tokens of ours to forward: identity headers only.
    if (!p.session) return identityHeaders(p.identity, this.ctx.cfg.headers.maxGroupsHeaderBytes);
    const rec = p.session.record;
    let h = this.headerCache.get(rec);
    if (!h) {
      const cfg = this.ctx.cfg.headers;
      h = identityHeaders(rec.identity, cfg.maxGroupsHeaderBytes);
      if (cfg.passAccessToken || cfg.passAuthorizationHeader) {
        const { accessToken } = this.ctx.sessions.tokens(rec);
        if (cfg.passAccessToken) h['x-forwarded-access-token'] = accessToken;
        if (cfg.passAuthorizationHeader) h.authorization = `Bearer ${accessToken}`;
      }
      this.headerCache.set(rec, h);
    }
    return h;
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
