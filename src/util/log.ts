import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * JSON logs. Redaction is a second line of defence: code never passes tokens, cookies or secrets
 * to the logger, and these paths are censored anyway in case a future change does.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const opts = {
    level,
    base: { service: 'gatehouse' },
    redact: {
      paths: [
        'req.headers.cookie',
        'req.headers.authorization',
        'headers.cookie',
        'headers.authorization',
        '*.access_token',
        '*.refresh_token',
        '*.id_token',
        '*.accessToken',
        '*.refreshToken',
        '*.idToken',
        '*.clientSecret',
        '*.initialAccessToken',
        '*.secret',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(opts, destination as never) : pino(opts);
}
