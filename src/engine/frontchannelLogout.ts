import type { EngineContext } from './context.js';
import type { Answer } from './decision.js';

export const FRONTCHANNEL_LOGOUT_PATH = '/oauth2/frontchannel-logout';

/**
 * OIDC Front-Channel Logout 1.0 receiver: the provider's end-session page embeds
 * `<iframe src="…/oauth2/frontchannel-logout?iss=…&sid=…">` and this ends every session of that
 * sid, on every replica (the store's deleteMatching, like back-channel logout).
 *
 * The request is a cross-site GET anyone can make, so it never acts on the cookie that came
 * along — that would let any page log a user out. It acts on `iss` + `sid` only: `iss` must be
 * the provider's issuer exactly, and the sid is an unguessable value only the provider and we
 * know. Without them nothing ends (`frontchannelLogoutSessionRequired: true`, the default, also
 * answers 400 so a misconfigured provider shows up in the log).
 *
 * The answer may be framed by the issuer's origin only (`frame-ancestors`), the one exception to
 * our pages' `frame-ancestors 'none'`.
 */
export class FrontchannelLogout {
  private readonly frameAncestor: string;

  constructor(private readonly ctx: EngineContext) {
    this.frameAncestor = new URL(ctx.cfg.provider.issuer).origin;
  }

  private page(status: number, title: string, message: string): Answer {
    return { type: 'page', status, title, message, frameAncestors: [this.frameAncestor], setCookies: [] };
  }

  async handle(query: URLSearchParams): Promise<Answer> {
    const required = this.ctx.cfg.provider.frontchannelLogoutSessionRequired;
    const iss = single(query, 'iss');
    const sid = single(query, 'sid');
    if (iss === null || sid === null) {
      return this.page(400, 'Sign-out failed', 'iss and sid must each be given at most once.');
    }
    if (iss === undefined || sid === undefined) {
      if (required) {
        this.ctx.logger.warn(
          { iss: iss !== undefined, sid: sid !== undefined },
          'front-channel logout without iss and sid refused (provider.frontchannelLogoutSessionRequired)',
        );
        return this.page(400, 'Sign-out failed', 'iss and sid are required.');
      }
      // Without a sid there is nothing to match, and the cookie is never used: nothing ends.
      this.ctx.logger.info('front-channel logout without iss and sid: nothing to end');
      return this.page(200, 'Signed out', 'No session was named.');
    }
    if (iss !== this.ctx.cfg.provider.issuer) {
      this.ctx.logger.warn({ iss }, 'front-channel logout for another issuer refused');
      return this.page(400, 'Sign-out failed', 'iss is not this provider.');
    }
    const ended = await this.ctx.sessions.store.deleteMatching({ sid });
    this.ctx.logger.info({ sid, ended }, 'front-channel logout');
    // The same answer whether or not a session matched: the page tells a framing site nothing.
    return this.page(200, 'Signed out', 'Your session has ended.');
  }
}

/** The parameter's value; undefined when absent or empty, null when repeated. */
function single(q: URLSearchParams, name: string): string | undefined | null {
  const all = q.getAll(name);
  if (all.length > 1) return null;
  return all[0] === '' ? undefined : all[0];
}
