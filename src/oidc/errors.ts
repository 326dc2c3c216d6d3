import * as client from 'openid-client';
import { describeCause } from '../util/errors.js';

/**
 * What went wrong between Gatehouse and the provider, as one coded taxonomy: the code exchange
 * (engine/login.ts turns a code into the sign-in error page), the refresh grant (the refresh
 * coordinator turns `kind` into "log out" or "keep the session"), and the validation of tokens
 * the provider signed (back-channel logout tokens, later bearer tokens). Nothing outside
 * src/oidc/ has to know openid-client's or jose's error classes.
 */
export type OidcErrorCode =
  /** The provider answered an OAuth error (RFC 6749 §5.2) such as `invalid_grant`: `oauthError` says which. */
  | 'refused'
  /** The provider answered HTTP 5xx or 429 (with or without an OAuth error body): a bad moment, not a verdict. */
  | 'provider_error'
  /** The provider answered another HTTP status that is not an OAuth error (a 404 page, say). */
  | 'unexpected_status'
  /** No answer at all: network failure or timeout. */
  | 'unreachable'
  /** An answer that failed validation (ID token signature, iss, aud, nonce, userinfo sub…), or any other failure. */
  | 'invalid_response'
  /** A refreshed ID token names another subject: these tokens are not this session's user's. */
  | 'subject_changed'
  /** The provider has not been reached yet (discovery is still being retried). */
  | 'not_ready'
  /** The provider publishes no signing keys (no `jwks_uri`), so it cannot sign a token for us. */
  | 'no_signing_keys'
  /** A JWT the provider was to have signed failed verification (signature, iss, aud, iat/exp, required claims). */
  | 'token_unverified'
  /** A verified JWT that is not what it must be (a logout token without its event, with a nonce…). */
  | 'token_invalid';

export interface OidcErrorDetails {
  /** The OAuth `error` (or Gatehouse's own label: `http_503`, `unreachable`, `subject_changed`). */
  oauthError?: string | undefined;
  /** The OAuth `error_description`, or Gatehouse's description of what happened; never a token. */
  description?: string | undefined;
  /** The provider's HTTP status, when it answered. */
  status?: number | undefined;
}

export class OidcError extends Error {
  readonly oauthError: string | undefined;
  readonly description: string | undefined;
  readonly status: number | undefined;

  constructor(
    readonly code: OidcErrorCode,
    details: OidcErrorDetails = {},
    cause?: unknown,
  ) {
    const { oauthError, description, status } = details;
    super(`${oauthError ?? code}${description ? `: ${description}` : ''}`, { cause });
    this.name = 'OidcError';
    this.oauthError = oauthError;
    this.description = description;
    this.status = status;
  }

  /**
   * What a failed refresh means for the session. Only a dead grant (`invalid_grant`, whatever
   * the HTTP status) and a changed subject end it; network errors, timeouts, 5xx and 429 are the
   * IdP having a bad moment, and misconfiguration or malformed answers are a provider fault
   * answered with an error page: none of them may log anyone out.
   */
  get kind(): 'terminal' | 'transient' {
    return this.oauthError === 'invalid_grant' || this.code === 'subject_changed' ? 'terminal' : 'transient';
  }
}

/** 5xx and 429: the provider is overloaded or failing. */
function isProviderFailure(status: number): boolean {
  return status >= 500 || status === 429;
}

/**
 * The HTTP status of a non-OAuth error answer (e.g. a 503 HTML page): openid-client reports those
 * as a ClientError whose cause is the Response.
 */
function plainHttpStatusOf(err: unknown): number | undefined {
  const cause = (err as { cause?: unknown })?.cause;
  if (err instanceof client.ClientError && cause instanceof Response) return cause.status;
  return undefined;
}

/** Network failure or timeout: the IdP did not answer at all. */
function isUnreachable(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return (
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    (err instanceof TypeError && /fetch failed/i.test(err.message))
  );
}

/** Any failure of a call to the provider (openid-client, fetch, jose), coded. An OidcError is returned as it is. */
export function classifyOidcError(err: unknown): OidcError {
  if (err instanceof OidcError) return err;
  if (err instanceof client.ResponseBodyError) {
    const code = isProviderFailure(err.status) ? 'provider_error' : 'refused';
    return new OidcError(
      code,
      { oauthError: err.error, description: err.error_description, status: err.status },
      err,
    );
  }
  const status = plainHttpStatusOf(err);
  if (status !== undefined) {
    return new OidcError(
      isProviderFailure(status) ? 'provider_error' : 'unexpected_status',
      { oauthError: `http_${status}`, description: `the identity provider answered HTTP ${status}`, status },
      err,
    );
  }
  if (isUnreachable(err)) {
    return new OidcError('unreachable', { oauthError: 'unreachable', description: describeCause(err) }, err);
  }
  return new OidcError('invalid_response', { description: describeCause(err) }, err);
}
