// The slow and 5xx failure profiles an endpoint can have (token-endpoint-*, introspection-*,
// userinfo-5xx), answered alike everywhere, so a client's handling of one carries over to all.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type IdpContext, oauthError } from './context.js';
import type { ProfileName } from './profiles.js';

/**
 * Under `profile`, waits `--token-delay-ms` as an overloaded IdP queues the request. False: the
 * handler stops (the IdP is stopping, or the client hung up while queued — its request is
 * dropped unprocessed, so e.g. a refresh token it carried stays valid).
 */
export async function waitsInQueue(
  ctx: IdpContext,
  req: IncomingMessage,
  res: ServerResponse,
  profile: ProfileName,
): Promise<boolean> {
  if (!ctx.profiles.has(profile)) return true;
  const completed = await ctx.lifecycle.delay(ctx.options.tokenDelayMs);
  return completed && !req.socket.destroyed && !res.destroyed;
}

/** Under `profile`, answers 503 `temporarily_unavailable` with `Retry-After: 1` and returns true (the handler stops). */
export function answersDown(
  ctx: IdpContext,
  res: ServerResponse,
  profile: ProfileName,
  what: string,
): boolean {
  if (!ctx.profiles.has(profile)) return false;
  oauthError(ctx, res, 503, 'temporarily_unavailable', `${what} unavailable (${profile} profile)`, {
    'retry-after': '1',
  });
  return true;
}
