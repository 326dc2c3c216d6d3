/**
 * Typed errors: every failure carries a stable `code`, the HTTP status a front door should answer
 * with, a reason that is safe to show to the user, and the internal cause for the logs.
 */
export type ErrorCode =
  | 'bad_cookie'
  | 'no_session'
  | 'session_expired'
  | 'forbidden'
  | 'bad_request'
  | 'callback_invalid'
  | 'state_mismatch'
  | 'login_loop'
  | 'rate_limited'
  | 'provider_error'
  | 'provider_unavailable'
  | 'refresh_failed'
  | 'store_unavailable'
  | 'upstream_unavailable'
  | 'unsupported_upgrade'
  /** No route serves this host and path (docs/routes.md). */
  | 'not_found'
  /** A cross-host sign-in hand-off link that is invalid, expired, used, or for another browser. */
  | 'handoff_invalid'
  | 'config_invalid'
  /** A bearer token that is bad, expired, revoked or not for this API (RFC 6750 §3.1). */
  | 'invalid_token'
  /** A bearer request that authorization denies (RFC 6750 §3.1). */
  | 'insufficient_scope';

export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Safe to show to the end user: never a token, never an internal detail. */
  readonly publicReason: string;

  constructor(
    code: ErrorCode,
    status: number,
    publicReason: string,
    options?: { cause?: unknown; message?: string },
  ) {
    super(
      options?.message ?? publicReason,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'GatehouseError';
    this.code = code;
    this.status = status;
    this.publicReason = publicReason;
  }
}

/** A short, token-free description of any thrown value for log lines. */
export function describeCause(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const own = `${err.name}${typeof code === 'string' ? `(${code})` : ''}: ${err.message}`;
    // fetch says only "fetch failed"; why (refused, DNS, an untrusted certificate) is its cause.
    if (err.message === 'fetch failed' && err.cause instanceof Error) {
      return `${own} (${describeCause(err.cause)})`;
    }
    return own;
  }
  return String(err);
}
