import { OidcError } from '../oidc/errors.js';
import type { LogoutTokenClaims } from '../oidc/logoutToken.js';
import { describeCause } from '../util/errors.js';
import type { EngineContext } from './context.js';
import type { Answer } from './decision.js';

function badRequest(description: string): Answer {
  return {
    type: 'json',
    status: 400,
    body: { error: 'invalid_request', error_description: description },
    setCookies: [],
  };
}

/**
 * OIDC Back-Channel Logout 1.0 receiver. The provider validates the logout token (oidc/
 * logoutToken.ts: signature against its one JWKS cache, iss, aud, iat/exp, `events`, `sid`
 * and/or `sub`, no `nonce`); here its `jti` is replay-checked in the (shared) store, then every
 * session of that sid/sub is ended.
 */
export class BackchannelLogout {
  constructor(private readonly ctx: EngineContext) {}

  async handle(form: URLSearchParams): Promise<Answer> {
    const token = form.get('logout_token');
    if (!token) return badRequest('logout_token is required');
    let claims: LogoutTokenClaims;
    try {
      claims = await this.ctx.provider.verifyLogoutToken(token);
    } catch (err) {
      if (!(err instanceof OidcError)) throw err;
      switch (err.code) {
        case 'not_ready':
          return { type: 'json', status: 503, body: { error: 'temporarily_unavailable' }, setCookies: [] };
        case 'no_signing_keys':
          return badRequest('this provider publishes no signing keys, so it cannot send back-channel logout');
        case 'token_unverified':
          this.ctx.logger.warn({ err: describeCause(err.cause) }, 'back-channel logout token rejected');
          return badRequest(err.description ?? 'logout_token could not be validated');
        default:
          return badRequest(err.description ?? 'logout_token could not be validated');
      }
    }
    const fresh = await this.ctx.sessions.store.markOnce(`jti:${claims.issuer}:${claims.jti}`, 15 * 60_000);
    if (!fresh) return badRequest('logout_token was already used');
    const match: { sub?: string; sid?: string } = {};
    if (claims.sub) match.sub = claims.sub;
    if (claims.sid) match.sid = claims.sid;
    const ended = await this.ctx.sessions.store.deleteMatching(match);
    this.ctx.logger.info({ sid: claims.sid, ended }, 'back-channel logout');
    return { type: 'json', status: 200, body: { ended }, setCookies: [] };
  }
}
