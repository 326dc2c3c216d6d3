import type { Identity } from '../../identity/identity.js';
import type { SessionRecord } from '../../session/record.js';
import type { RequestFacts } from '../facts.js';

/**
 * One kind of credential a request may carry (the session cookie; later a bearer token), read
 * from the request's facts. The engine asks the loaders of its chain in order (see
 * credentialChain.ts) and the first one that finds its credential decides.
 *
 * The contract every loader keeps:
 * - `none` means only "this request carries no credential of my kind". A loader that finds its
 *   credential answers `authenticated`, `refused` or `unavailable`, never `none`: a request with
 *   a bad credential must not fall through to the next loader (an explicit credential is not
 *   silently replaced by an ambient one) nor to the sign-in redirect.
 * - `signsInByRedirect` says whether the client can sign in again by following a redirect to the
 *   identity provider. Only a credential that a browser gets by signing in here says true (the
 *   session cookie). A bearer-token loader says false, and so **a bearer request never gets a
 *   login redirect**: its client is a program that cannot follow one, so its refusals are a 401
 *   with a challenge whatever its `Accept` or `Sec-Fetch-*` headers say.
 * - It never logs a credential (facts.cookieHeader, facts.authorization), only what it found.
 * - Side effects beyond reading (renewing a session, bookkeeping) are the loader's own and must not
 *   delay an answer it can already give.
 */
export interface CredentialLoader {
  readonly signsInByRedirect: boolean;
  load(f: RequestFacts): Promise<CredentialResult>;
  /**
   * The HTTP authentication scheme a client could use on this request instead, for the 401 a
   * request without any credential gets (RFC 7235 §4.1: every scheme the resource accepts is
   * offered). A bearer loader names `Bearer` where it reads tokens; the cookie has no scheme.
   */
  offersScheme?(f: RequestFacts): 'Bearer' | undefined;
}

export type CredentialResult = NoCredential | Principal | Refused | Unavailable;

/** The request carries no credential of this loader's kind: the next loader is asked. */
export interface NoCredential {
  kind: 'none';
}

export const NO_CREDENTIAL: NoCredential = { kind: 'none' };

/** The session behind a principal: its store key and the record read for this request. */
export interface SessionRef {
  key: string;
  record: SessionRecord;
}

/** The credential is good: who the request comes from. */
export interface Principal {
  kind: 'authenticated';
  identity: Identity;
  /** When the credential stops being good (ms since the epoch): the session's end, a token's `exp`. */
  expiresAt: number;
  /**
   * The session, when the credential is one (the session cookie): binds upgraded sockets to it
   * and holds the tokens that `headers.passAccessToken` forwards. A credential without a session
   * forwards identity headers only.
   */
  session?: SessionRef;
  /** Set-Cookie values to send with whatever answers the request. */
  setCookies: string[];
  /**
   * The scopes the credential grants, for `authorization.rules[].requiredScopes`: a bearer
   * token's `scope`/`scp`; a session's, those the provider granted at sign-in.
   */
  scopes?: readonly string[];
  /** The bearer token, when the credential is one: forwarded by `headers.passAccessToken`/`passAuthorizationHeader`. */
  bearer?: BearerCredential;
  /**
   * The claims the header templates read, for a credential without a session (a bearer token's
   * own claims); a session's are kept on its record (`SessionRecord.claims`).
   */
  claims?: Record<string, unknown>;
}

/** What a bearer-token principal carries besides its identity. */
export interface BearerCredential {
  token: string;
  /** The token's SHA-256: binds upgraded sockets to it (`bearer:<hash>`), so they are re-checked until it expires. */
  hash: string;
  /** The OAuth client the token was issued to (`client_id`, else `azp`), sent as X-Forwarded-Client-Id. */
  clientId: string | undefined;
  /** A machine client (client credentials: no user of its own), docs/api-clients.md. */
  machine: boolean;
}

/**
 * The credential is not (or no longer) good: bad, expired, revoked. The client must get a new one:
 * a navigation is sent to sign in when the loader `signsInByRedirect`, anything else gets a 401.
 */
export interface Refused {
  kind: 'refused';
  /** What is wrong, for the 401's code and reason: `invalid_token` is a bearer token's (RFC 6750 §3.1). */
  code: 'bad_cookie' | 'session_expired' | 'invalid_token';
  /** Why a token was refused, for `error_description` (never the token). */
  description?: string;
  /** Set-Cookie values to send with the answer (clearing a dead session cookie). */
  setCookies: string[];
  /**
   * A session whose access token expired without a refresh token, kept (record and cookie) so
   * that a navigation can try one silent re-authorization before the login page
   * (engine/silentUpgrade.ts `reauthorizeExpired`); whoever does not try it must end it
   * (`endExpired`).
   */
  expired?: SessionRef;
}

/** The credential may be good but cannot be checked or renewed now (the IdP is down): 503. */
export interface Unavailable {
  kind: 'unavailable';
  retryAfterSec: number;
  /** What cannot be checked, when it is not the session (a bearer token: "the token cannot be checked now"). */
  reason?: string;
}
