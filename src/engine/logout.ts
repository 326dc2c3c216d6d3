import type { EngineContext } from './context.js';
import { clearCookie, readCookie } from './cookies.js';
import type { Answer } from './decision.js';
import type { RequestFacts } from './facts.js';

export const SIGNED_OUT_PATH = '/oauth2/signed-out';

/**
 * Deletes the record first, then the cookie; then RP-initiated logout at the IdP when it has an
 * end_session_endpoint (so the user is not silently signed back in), else our signed-out page.
 */
export async function logout(ctx: EngineContext, f: RequestFacts): Promise<Answer> {
  const jar = ctx.jar;
  const key = ctx.sessions.codec.open(readCookie(f.cookieHeader, jar.session));
  let idToken: string | undefined;
  if (key) {
    const rec = await ctx.sessions.store.get(key);
    if (rec) {
      try {
        idToken = ctx.sessions.tokens(rec).idToken;
      } catch {
        // unreadable tokens (rotated secret): log out without the hint
      }
      ctx.logger.info({ reqId: f.requestId, user: rec.identity.user, session: key.slice(0, 12) }, 'logout');
    }
    await ctx.sessions.store.delete(key);
  }
  const signedOut = new URL(SIGNED_OUT_PATH, ctx.cfg.publicUrl).href;
  const location = ctx.provider.endSessionUrl(idToken, signedOut) ?? SIGNED_OUT_PATH;
  return { type: 'redirect', location, setCookies: [clearCookie(jar, jar.session)] };
}
