import { type Logger, pino } from 'pino';
import { stdoutLogLines } from './logLines.js';
import { GATEHOUSE_LOGGER } from './requestLogLine.js';

export type { Logger };

export const REDACTED = '[redacted]';

/** Keys censored in any object one level down (`*.access_token`, …). */
const SECRET_KEYS = [
  'access_token',
  'refresh_token',
  'id_token',
  'accessToken',
  'refreshToken',
  'idToken',
  'clientSecret',
  'initialAccessToken',
  'secret',
];
/** Censored in `headers.*` and `req.headers.*`. */
const SECRET_HEADERS = ['cookie', 'authorization'];

function withCensored(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  let out = o;
  for (const k of keys) {
    if (o[k] === undefined) continue;
    if (out === o) out = { ...o };
    out[k] = REDACTED;
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The log object with the secret paths censored: `*.access_token` … `*.secret`, `headers.cookie`,
 * `headers.authorization`, `req.headers.cookie`, `req.headers.authorization` (the paths pino's `redact` was given before,
 * with the same censor). Copies what it censors, never the caller's object.
 * A line of primitives only (the request log) is one pass over its keys: pino's path-based
 * redaction cost ~3 % of the CPU of a proxied request, on every line, for objects that never hold
 * a secret.
 */
export function censorSecrets(obj: Record<string, unknown>): Record<string, unknown> {
  let out = obj;
  for (const key in obj) {
    const v = obj[key];
    if (!isRecord(v)) continue;
    let c = withCensored(v, SECRET_KEYS);
    if (key === 'headers') c = withCensored(c, SECRET_HEADERS);
    else if (key === 'req' && isRecord(c.headers)) {
      const h = withCensored(c.headers, SECRET_HEADERS);
      if (h !== c.headers) c = { ...c, headers: h };
    }
    if (c === v) continue;
    if (out === obj) out = { ...obj };
    out[key] = c;
  }
  return out;
}

/**
 * JSON logs. Censoring is a second line of defence: code never passes tokens, cookies or secrets
 * to the logger, and these paths are censored anyway in case a future change does.
 *
 * Without a destination, lines go to stdout batched per event-loop turn (see BatchedLines): one
 * write(2) for many request lines instead of one each.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const opts = {
    level,
    base: { service: 'gatehouse' },
    formatters: { log: censorSecrets, bindings: censorSecrets },
  };
  const logger = pino(opts, (destination ?? stdoutLogLines()) as never);
  // Its request lines may be put together without pino's generic path (requestLogLine.ts).
  (logger as unknown as Record<symbol, boolean>)[GATEHOUSE_LOGGER] = true;
  return logger;
}
