import { OidcError } from './errors.js';
import type { ProviderKeys } from './jwks.js';

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Who a valid logout token logs out, and its `jti` for the replay check. */
export interface LogoutTokenClaims {
  issuer: string;
  jti: string;
  sub: string | undefined;
  sid: string | undefined;
}

export interface LogoutTokenExpectations {
  issuer: string;
  clientId: string;
  clockToleranceSec: number;
  /** The gateway clock's now (ms). */
  now: number;
}

function invalid(description: string): OidcError {
  return new OidcError('token_invalid', { description });
}

/**
 * Validates an OIDC Back-Channel Logout 1.0 logout token against the provider's keys: signature,
 * iss, aud, iat (at most 10 minutes old) / exp, a `jti`, the logout `typ` when one is given, the
 * back-channel logout event, no `nonce`, and a `sid` and/or `sub`. Throws an OidcError:
 * `token_unverified` (signature or standard claims; cause: jose's error) or `token_invalid`
 * (a verified token that is no logout token), each with a description fit for the answer.
 */
export async function verifyLogoutToken(
  token: string,
  keys: ProviderKeys,
  expect: LogoutTokenExpectations,
): Promise<LogoutTokenClaims> {
  let verified: Awaited<ReturnType<ProviderKeys['verify']>>;
  try {
    verified = await keys.verify(token, {
      issuer: expect.issuer,
      audience: expect.clientId,
      maxTokenAgeSec: 600,
      clockToleranceSec: expect.clockToleranceSec,
      now: expect.now,
      requiredClaims: ['iat', 'jti'],
    });
  } catch (err) {
    throw new OidcError('token_unverified', { description: 'logout_token could not be validated' }, err);
  }
  const { payload, typ } = verified;
  const t = typ?.toLowerCase();
  if (t !== undefined && t !== 'logout+jwt' && t !== 'application/logout+jwt') {
    throw invalid('logout_token has the wrong typ');
  }
  const events = payload.events as Record<string, unknown> | undefined;
  if (!events || typeof events !== 'object' || !(BACKCHANNEL_LOGOUT_EVENT in events))
    throw invalid('logout_token has no back-channel logout event');
  if ('nonce' in payload) throw invalid('logout_token must not contain a nonce');
  const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
  const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
  if (!sub && !sid) throw invalid('logout_token has neither sub nor sid');
  return { issuer: expect.issuer, jti: String(payload.jti), sub, sid };
}
