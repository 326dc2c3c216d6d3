import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { describeCause } from '../util/errors.js';
import type { EngineContext } from './context.js';
import type { Answer } from './decision.js';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

function badRequest(description: string): Answer {
  return {
    type: 'json',
    status: 400,
    body: { error: 'invalid_request', error_description: description },
    setCookies: [],
  };
}

/**
 * OIDC Back-Channel Logout 1.0 receiver. The logout token is validated with jose against the
 * provider's JWKS (signature, iss, aud, iat/exp, `events`, `sid` and/or `sub`, no `nonce`), its
 * `jti` is replay-checked in the (shared) store, then every session of that sid/sub is ended.
 */
export class BackchannelLogout {
  private jwks: JWTVerifyGetKey | undefined;

  constructor(private readonly ctx: EngineContext) {}

  private keys(): JWTVerifyGetKey | undefined {
    if (!this.jwks) {
      const uri = this.ctx.provider.serverMetadata?.jwks_uri;
      if (!uri) return undefined;
      // jose caches keys and rate-limits refetches on an unknown kid (cooldown).
      this.jwks = createRemoteJWKSet(new URL(uri), {
        timeoutDuration: this.ctx.cfg.provider.timeoutSeconds * 1000,
      });
    }
    return this.jwks;
  }

  async handle(form: URLSearchParams): Promise<Answer> {
    const token = form.get('logout_token');
    if (!token) return badRequest('logout_token is required');
    const meta = this.ctx.provider.serverMetadata;
    if (meta && !meta.jwks_uri) {
      return badRequest('this provider publishes no signing keys, so it cannot send back-channel logout');
    }
    const keys = this.keys();
    if (!meta || !keys) {
      return { type: 'json', status: 503, body: { error: 'temporarily_unavailable' }, setCookies: [] };
    }
    let payload: Record<string, unknown>;
    try {
      const verified = await jwtVerify(token, keys, {
        issuer: meta.issuer,
        audience: this.ctx.cfg.provider.clientId,
        maxTokenAge: '10m',
        clockTolerance: this.ctx.cfg.provider.clockToleranceSeconds,
        currentDate: new Date(this.ctx.clock.now()),
        requiredClaims: ['iat', 'jti'],
      });
      payload = verified.payload as Record<string, unknown>;
      const typ = verified.protectedHeader.typ;
      if (
        typ !== undefined &&
        typ.toLowerCase() !== 'logout+jwt' &&
        typ.toLowerCase() !== 'application/logout+jwt'
      ) {
        return badRequest('logout_token has the wrong typ');
      }
    } catch (err) {
      this.ctx.logger.warn({ err: describeCause(err) }, 'back-channel logout token rejected');
      return badRequest('logout_token could not be validated');
    }
    const events = payload.events as Record<string, unknown> | undefined;
    if (!events || typeof events !== 'object' || !(EVENT in events))
      return badRequest('logout_token has no back-channel logout event');
    if ('nonce' in payload) return badRequest('logout_token must not contain a nonce');
    const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
    const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
    if (!sub && !sid) return badRequest('logout_token has neither sub nor sid');
    const fresh = await this.ctx.sessions.store.markOnce(
      `jti:${meta.issuer}:${String(payload.jti)}`,
      15 * 60_000,
    );
    if (!fresh) return badRequest('logout_token was already used');
    const match: { sub?: string; sid?: string } = {};
    if (sub) match.sub = sub;
    if (sid) match.sid = sid;
    const ended = await this.ctx.sessions.store.deleteMatching(match);
    this.ctx.logger.info({ sid, ended }, 'back-channel logout');
    return { type: 'json', status: 200, body: { ended }, setCookies: [] };
  }
}
