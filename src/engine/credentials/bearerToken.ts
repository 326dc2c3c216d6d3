import { ruleCovers } from '../../authz/pathPrefix.js';
import { pathReadings } from '../../authz/pathReadings.js';
import type { Identity } from '../../identity/identity.js';
import { AccessTokenJwtVerifier, looksLikeJwt } from '../../oidc/accessTokenJwt.js';
import { acceptedIssuers, sameIssuer } from '../../oidc/bearerSettings.js';
import { TokenIntrospector, tokenHash } from '../../oidc/introspection.js';
import { type ActiveToken, scopesOf, type TokenVerdict } from '../../oidc/tokenVerdict.js';
import { BoundedTtlMap } from '../../util/lru.js';
import type { EngineContext } from '../context.js';
import type { RequestFacts } from '../facts.js';
import {
  type CredentialLoader,
  type CredentialResult,
  NO_CREDENTIAL,
  type Principal,
  type Refused,
} from './credentialLoader.js';

/** Longer than any real access token (a JWT with hundreds of groups is ~30 KB only past header limits). */
const MAX_TOKEN_LENGTH = 16 * 1024;
/** RFC 6750 §2.1: `Bearer` (any case), then a b64token. */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * `Authorization: Bearer …` (bearer.accept; docs/api-clients.md). A JWT is verified locally
 * (AccessTokenJwtVerifier) when `jwt` is accepted, anything else is introspected (RFC 7662,
 * TokenIntrospector) when `introspection` is; otherwise it is refused. Its client is a program:
 * it never signs in by redirect, so every refusal is a 401 `invalid_token` and an IdP that cannot
 * be asked is a 503, never a login redirect, never a cookie.
 *
 * Hot path: a verified JWT is remembered by its Authorization header as sent (bounded LRU,
 * until its `exp` and at most `bearer.jwtCacheSeconds`), with its principal built once, so a
 * repeated token costs one map read — no syntax check, no hash, no JWT parse, no signature.
 */
export class BearerTokenLoader implements CredentialLoader {
  readonly signsInByRedirect = false;
  private readonly jwt: AccessTokenJwtVerifier | undefined;
  private readonly introspector: TokenIntrospector | undefined;
  private readonly verified: BoundedTtlMap<string, Principal>;
  private readonly fromIntrospection = new WeakMap<ActiveToken, Principal | Refused>();
  private readonly prefixes: readonly string[];

  constructor(private readonly ctx: EngineContext) {
    const { cfg, provider, clock, metrics, logger } = ctx;
    const b = cfg.bearer;
    this.prefixes = b.pathPrefixes;
    this.verified = new BoundedTtlMap(b.jwtCacheEntries, () => clock.now());
    if (b.accept.includes('jwt')) {
      this.jwt = new AccessTokenJwtVerifier(provider, {
        bearer: b,
        providerIssuer: cfg.provider.issuer,
        clientId: provider.clientId,
        clockToleranceSec: cfg.provider.clockToleranceSeconds,
        timeoutMs: cfg.provider.timeoutSeconds * 1000,
        now: () => clock.now(),
        fetch: provider.fetch,
      });
    }
    if (b.accept.includes('introspection')) {
      const own = acceptedIssuers(b, cfg.provider.issuer).find((i) =>
        sameIssuer(i.issuer, cfg.provider.issuer),
      );
      this.introspector = new TokenIntrospector(
        (token) => provider.introspectToken(token, b.introspection.endpoint),
        {
          settings: b.introspection,
          audiences: own?.audiences ?? [],
          issuer: () => provider.discoveredIssuer,
          clock,
          count: (outcome) => metrics.introspections.inc({ outcome }),
          warn: (msg) => logger.warn({}, msg),
        },
      );
    }
  }

  /** The bearer token of a request this loader decides, or undefined (none sent, another scheme, outside pathPrefixes). */
  tokenOf(f: RequestFacts): string | undefined {
    const h = f.authorization;
    if (h === undefined || h.length < 6 || (h.charCodeAt(0) | 0x20) !== 0x62 /* b */) return undefined;
    // `Bearer` alone is a bearer request too (with no token: refused, never a redirect).
    if (!/^bearer(?: |$)/i.test(h)) return undefined;
    return this.acceptsTokensAt(f) ? h : undefined;
  }

  /** Whether a bearer token would be read on this request's path (`bearer.pathPrefixes`). */
  acceptsTokensAt(f: RequestFacts): boolean {
    if (this.prefixes.length === 0) return true;
    const readings = pathReadings(f.path);
    return this.prefixes.some((p) => ruleCovers(readings, p));
  }

  offersScheme(f: RequestFacts): 'Bearer' | undefined {
    return this.acceptsTokensAt(f) ? 'Bearer' : undefined;
  }

  async load(f: RequestFacts): Promise<CredentialResult> {
    const header = this.tokenOf(f);
    if (header === undefined) return NO_CREDENTIAL;
    // Keyed by the header as sent: a repeated token costs one map read, not a syntax check
    // and a SHA-256 (those ran when it was first verified).
    const hit = header.length <= MAX_TOKEN_LENGTH + 8 ? this.verified.get(header) : undefined;
    if (hit) {
      this.ctx.metrics.countCachedBearer();
      return hit;
    }
    const m = header.length <= MAX_TOKEN_LENGTH + 8 ? BEARER.exec(header) : null;
    const token = m?.[1];
    if (!token || token.length > MAX_TOKEN_LENGTH)
      return this.refuse(f, 'jwt', 'the Authorization header is not a bearer token');
    const hash = tokenHash(token);
    if (this.jwt && looksLikeJwt(token)) {
      const v = await this.jwt.verify(token);
      if (v.kind !== 'active') return this.outcome(f, 'jwt', v);
      const p = this.principal(token, hash, v);
      if (p.kind === 'refused')
        return this.outcome(f, 'jwt', { kind: 'invalid', description: p.description ?? '' });
      const ttl = Math.min(this.ctx.cfg.bearer.jwtCacheSeconds * 1000, p.expiresAt - this.ctx.clock.now());
      if (ttl > 0) this.verified.set(header, p, ttl);
      this.ctx.metrics.bearerVerifications.inc({ method: 'jwt', result: 'ok' });
      return p;
    }
    if (this.introspector) {
      const v = await this.introspector.check(token, hash);
      if (v.kind !== 'active') return this.outcome(f, 'introspection', v);
      // One principal per cached answer: a repeated opaque token builds no identity.
      let p = this.fromIntrospection.get(v);
      if (!p) {
        p = this.principal(token, hash, v);
        this.fromIntrospection.set(v, p);
      }
      if (p.kind === 'refused')
        return this.outcome(f, 'introspection', { kind: 'invalid', description: p.description ?? '' });
      this.ctx.metrics.bearerVerifications.inc({ method: 'introspection', result: 'ok' });
      return p;
    }
    return this.refuse(f, 'jwt', 'the token is not a JWT, and opaque tokens are not accepted');
  }

  private outcome(f: RequestFacts, method: string, v: Exclude<TokenVerdict, ActiveToken>): CredentialResult {
    if (v.kind === 'unavailable') {
      this.ctx.metrics.bearerVerifications.inc({ method, result: 'unavailable' });
      this.ctx.logger.warn({ reqId: f.requestId, err: v.description }, 'bearer token cannot be checked now');
      return {
        kind: 'unavailable',
        retryAfterSec: v.retryAfterSec,
        reason: 'The access token cannot be checked right now. Please retry shortly.',
      };
    }
    return this.refuse(f, method, v.description);
  }

  private refuse(f: RequestFacts, method: string, description: string): Refused {
    this.ctx.metrics.bearerVerifications.inc({ method, result: 'invalid' });
    this.ctx.logger.info({ reqId: f.requestId, reason: description }, 'bearer token refused');
    return { kind: 'refused', code: 'invalid_token', description, setCookies: [] };
  }

  /**
   * Who the token speaks for, by the same claim mapping as sessions. A machine client (client
   * credentials: a `client_id` and no `sub`, or `sub` = `client_id` as RFC 9068 §2.2 has it) is
   * its client id: X-Forwarded-User and X-Forwarded-Client-Id both say it.
   */
  private principal(token: string, hash: string, v: ActiveToken): Principal | Refused {
    const c = v.claims;
    const cid =
      typeof c.client_id === 'string' && c.client_id
        ? c.client_id
        : typeof c.azp === 'string' && c.azp
          ? c.azp
          : undefined;
    const sub = typeof c.sub === 'string' && c.sub ? c.sub : undefined;
    const machine = cid !== undefined && (sub === undefined || sub === cid);
    let identity: Identity;
    try {
      // The session's way of reading claims (the preset's shaping included), for the same groups.
      identity = this.ctx.sessions.identityFrom(sub === undefined && cid ? { ...c, sub: cid } : c);
    } catch {
      return {
        kind: 'refused',
        code: 'invalid_token',
        description: 'the token names no subject',
        setCookies: [],
      };
    }
    if (machine && cid) identity = { ...identity, user: cid };
    const expiresAt =
      v.expiresAt ?? this.ctx.clock.now() + this.ctx.cfg.bearer.introspection.cacheSeconds * 1000;
    const p: Principal = {
      kind: 'authenticated',
      identity,
      expiresAt,
      setCookies: [],
      scopes: scopesOf(c),
      bearer: { token, hash, clientId: cid, machine },
    };
    // The token's own claims (a verified JWT's payload, or the introspection answer) feed the
    // header templates, as a session's sign-in claims do; only the names the templates read.
    const claims = this.ctx.sessions.keptClaims(c);
    if (claims) p.claims = claims;
    return p;
  }
}
