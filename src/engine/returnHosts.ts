import type { EngineContext } from './context.js';

/**
 * Hosts a sign-in may return to (`rd`), besides publicUrl's: `login.allowedRedirectHosts` and
 * every route host — only configured hosts, so no open redirect.
 */
export function returnHosts(ctx: EngineContext): string[] {
  return ctx.routes.explicit
    ? [...ctx.cfg.login.allowedRedirectHosts, ...ctx.routes.redirectHosts()]
    : ctx.cfg.login.allowedRedirectHosts;
}
