import { decodeJwt } from 'jose';

/** Request lines beyond 4–8 KiB are refused by nginx, Keycloak and most IdP front ends. */
export const MAX_LOGOUT_URL_BYTES = 8192;

/**
 * What identifies the user to the end_session_endpoint when `id_token_hint` would make the URL
 * too long (a 27 KB ID token with many groups). RP-Initiated Logout 1.0 §2 leaves `logout_hint`'s
 * meaning to the OP; we send, in order: the ID token's `login_hint` claim (Entra ID issues it for
 * exactly this), its `sid` (the OP's session), else nothing. `client_id` is always sent, so the
 * OP can still validate post_logout_redirect_uri; without the ID token the OP may ask the user
 * to confirm, which is the spec's answer to an unauthenticated logout request — never a broken one.
 */
export function logoutHintFrom(idToken: string): string | undefined {
  try {
    const c = decodeJwt(idToken);
    for (const v of [c.login_hint, c.sid])
      if (typeof v === 'string' && v.length > 0 && v.length <= 512) return v;
  } catch {
    // not a JWT: no hint
  }
  return undefined;
}
