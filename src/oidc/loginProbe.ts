import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import * as client from 'openid-client';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { classifyOidcError } from './errors.js';
import { OidcProvider } from './provider.js';
import type { OidcProviderConfig } from './settings.js';
import type { TokenResult } from './tokenResult.js';

/**
 * One real login and one refresh grant, as the gateway would do them, for `gatehouse doctor
 * --login`: the authorization request is OidcProvider's own (scopes, offline-access parameters,
 * PKCE S256, state, nonce) with the redirect URI moved to a temporary loopback listener; the
 * callback is validated as the gateway validates it (state, nonce, ID token). What comes back is
 * facts about the tokens — never a token.
 */

/** What a token response said, without the tokens. */
export interface TokenFacts {
  refreshToken: boolean;
  idToken: boolean;
  /** The access token's lifetime as Gatehouse computes it (seconds), and whether `expires_in` said it. */
  accessLifetimeSeconds: number;
  expiresInStated: boolean;
  /** exp − iat of the ID token, when there is one with both. */
  idTokenLifetimeSeconds: number | undefined;
  /** `refresh_expires_in` (Keycloak), when the provider said it. */
  refreshExpiresInSeconds: number | undefined;
}

/** A failure answered by the provider or found in its answer: the OAuth error code and a line (no token). */
export interface ProbeFailure {
  code: string;
  description: string;
}

export type LoginProbeOutcome =
  | { kind: 'listen-failed'; callback: string; reason: string }
  | { kind: 'unreachable'; reason: string }
  | { kind: 'timeout'; callback: string; seconds: number }
  | { kind: 'login-failed'; callback: string; failure: ProbeFailure }
  | {
      kind: 'signed-in';
      callback: string;
      login: TokenFacts;
      /** Undefined when no refresh token came back (nothing to refresh with). */
      refresh:
        | { ok: true; rotated: boolean; facts: TokenFacts }
        | { ok: false; failure: ProbeFailure }
        | undefined;
    };

export interface LoginProbeOptions {
  cfg: OidcProviderConfig;
  /** `http://<loopback>:<port><path>`: where the listener answers and what redirect_uri says. */
  callback: URL;
  timeoutSeconds: number;
  /** Called once the listener is up, with the URL a person opens in a browser. */
  onUrl: (url: string) => void;
  clock: Clock;
  logger: Logger;
}

/** Starts listening on the callback's host and port; rejects with the listen error (EADDRINUSE…). */
export async function listenOn(callback: URL): Promise<Server> {
  const server = createServer();
  const host = callback.hostname.replace(/^\[|\]$/g, '');
  server.listen(Number(callback.port || 80), host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([err]) => {
      throw err;
    }),
  ]);
  return server;
}

/** Is this port free on this loopback host now (the gateway of this configuration is stopped)? */
export async function portIsFree(callback: URL): Promise<boolean> {
  try {
    const s = await listenOn(callback);
    await closeServer(s);
    return true;
  } catch {
    return false;
  }
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function failureOf(err: unknown): ProbeFailure {
  // An error the provider sent back to the callback (error=access_denied…), not a token answer.
  if (err instanceof client.AuthorizationResponseError) {
    return { code: err.error, description: err.error_description ?? 'the provider refused the login' };
  }
  const e = classifyOidcError(err);
  return {
    code: e.oauthError ?? e.code,
    description: (e.description ?? e.message).split('\n')[0] ?? e.code,
  };
}

function factsOf(r: TokenResult): TokenFacts {
  const exp = r.claims?.exp;
  const iat = r.claims?.iat;
  return {
    refreshToken: r.tokens.refreshToken !== undefined,
    idToken: r.tokens.idToken !== undefined,
    accessLifetimeSeconds: Math.round(r.accessLifetimeMs / 1000),
    expiresInStated: r.stated?.expiresIn !== undefined,
    idTokenLifetimeSeconds:
      r.tokens.idToken !== undefined && typeof exp === 'number' && typeof iat === 'number'
        ? exp - iat
        : undefined,
    refreshExpiresInSeconds: r.stated?.refreshExpiresIn,
  };
}

const CALLBACK_PAGE = `<!doctype html><meta charset="utf-8"><title>Gatehouse doctor</title>
<p>Gatehouse doctor received the provider's answer; the result is in the terminal. You can close this tab.</p>\n`;

export async function probeLogin(opts: LoginProbeOptions): Promise<LoginProbeOutcome> {
  const callback = opts.callback.href;
  const provider = new OidcProvider(opts.cfg, {
    clock: opts.clock,
    logger: opts.logger,
    redirectUri: callback,
  });
  try {
    // start() retries discovery forever; the doctor gives it one provider timeout.
    let discoveryTimer: NodeJS.Timeout | undefined;
    const reached = await Promise.race([
      provider.start().then(() => true),
      new Promise<false>((resolve) => {
        discoveryTimer = setTimeout(() => resolve(false), opts.cfg.provider.timeoutSeconds * 1000);
      }),
    ]);
    clearTimeout(discoveryTimer);
    if (!reached) return { kind: 'unreachable', reason: provider.notReadyReason };

    let server: Server;
    try {
      server = await listenOn(opts.callback);
    } catch (err) {
      return { kind: 'listen-failed', callback, reason: (err as Error).message };
    }
    let callbackUrl: URL | undefined;
    const checks = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      codeVerifier: client.randomPKCECodeVerifier(),
    };
    try {
      const arrived = new Promise<URL>((resolve) => {
        server.on('request', (req, res) => {
          const url = new URL(req.url ?? '/', opts.callback);
          if (url.pathname !== opts.callback.pathname) {
            res.writeHead(404, { 'content-type': 'text/plain' }).end('not the doctor callback\n');
            return;
          }
          res.writeHead(200, {
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-store',
            connection: 'close',
          });
          // Resolved once the page is written, so closing the listener cannot cut it short.
          res.end(CALLBACK_PAGE, () => resolve(url));
        });
      });
      opts.onUrl(await provider.authorizationUrl(checks));
      let timer: NodeJS.Timeout | undefined;
      callbackUrl = await Promise.race([
        arrived,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), opts.timeoutSeconds * 1000);
        }),
      ]);
      clearTimeout(timer);
    } finally {
      // One callback is all the probe takes; nothing listens once it came (or the wait ended).
      await closeServer(server);
    }
    if (!callbackUrl) return { kind: 'timeout', callback, seconds: opts.timeoutSeconds };

    let login: TokenResult;
    try {
      login = await provider.exchangeCode(callbackUrl, checks);
    } catch (err) {
      return { kind: 'login-failed', callback, failure: failureOf(err) };
    }
    const facts = factsOf(login);
    const refreshToken = login.tokens.refreshToken;
    if (refreshToken === undefined) return { kind: 'signed-in', callback, login: facts, refresh: undefined };
    try {
      const next = await provider.refresh(refreshToken, login.claims);
      return {
        kind: 'signed-in',
        callback,
        login: facts,
        refresh: { ok: true, rotated: next.rotated, facts: factsOf(next) },
      };
    } catch (err) {
      return { kind: 'signed-in', callback, login: facts, refresh: { ok: false, failure: failureOf(err) } };
    }
  } finally {
    provider.stop();
  }
}
