import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Answer } from '../engine/decision.js';
import type { Engine } from '../engine/engine.js';
import type { RequestFacts } from '../engine/facts.js';
import { FRONTCHANNEL_LOGOUT_PATH } from '../engine/frontchannelLogout.js';
import { HANDOFF_PATH } from '../engine/handoff.js';
import { LOGOUT_PATH, SIGNED_OUT_PATH } from '../engine/logout.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Logger } from '../util/log.js';
import { answer, audienceOf } from './answer.js';
import { continueBody } from './expectContinue.js';
import { AUTH_REQUEST_PATH, FORWARD_AUTH_PATH, handleForwardAuth } from './forwardAuth.js';
import { single } from './requestFacts.js';
import type { RequestLog } from './requestLog.js';
import { sendCacheableJson, sendJson } from './respond.js';

/** What every front door built on the engine needs (reverse proxy, middleware, Fastify). */
export interface FrontDoorDeps {
  engine: Engine;
  logger: Logger;
  metrics: GatewayMetrics;
  publicUrl: string;
}

/**
 * Reads a small form body; undefined when it exceeds `limit` bytes. Beyond the limit nothing is
 * kept, but the rest is still read (and discarded) to its end before the caller answers 413 with
 * `Connection: close`: Node destroys the socket as soon as that answer is written, and a client
 * still sending its body would then get a reset, often before it has read the answer. Past
 * `limit × DISCARD_FACTOR` bytes (1 MiB for back-channel logout) the answer goes out at once:
 * such a client gets what it asked for.
 */
const DISCARD_FACTOR = 16;

function readSmallBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit * DISCARD_FACTOR) resolve(undefined);
      else if (size > limit) chunks.length = 0;
      else chunks.push(c);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The public keys of X-Gatehouse-Assertion (docs/assertion.md); 404 while assertions are off. */
export const JWKS_PATH = '/oauth2/jwks';
/**
 * How long an upstream may cache the key set: one assertion lifetime at most (300 s), so a key
 * added by a rotation is picked up before assertions signed with it are common; jose's
 * createRemoteJWKSet also refetches at once on an unknown `kid`.
 */
const JWKS_MAX_AGE_SECONDS = 300;

/** oauth2-proxy's names for /oauth2/start and /oauth2/logout, kept so its nginx examples work. */
const OAUTH2_PROXY_SIGN_IN = '/oauth2/sign_in';
const OAUTH2_PROXY_SIGN_OUT = '/oauth2/sign_out';

/** X-Auth-Request-Redirect, when sent once. */
function signInRedirect(req: IncomingMessage): string | null {
  const v = single(req, 'x-auth-request-redirect');
  return typeof v === 'string' ? v : null;
}

/**
 * Serves the /oauth2/* routes shared by every front door (login, callback, logout, userinfo,
 * back-channel logout, and the forward-auth endpoints). `/oauth2/` is Gatehouse's namespace: any
 * other path under it is answered 404 here and never reaches the application (metrics included:
 * they have a listener of their own, `metrics.listen`). Resolves false only for paths outside it.
 */
export function createOAuth2Routes(
  deps: FrontDoorDeps,
): (req: IncomingMessage, res: ServerResponse, f: RequestFacts, log: RequestLog) => Promise<boolean> {
  const secure = deps.publicUrl.startsWith('https:');
  const { engine } = deps;
  return async (req, res, f, log) => {
    const requestId = f.requestId;
    const audience = audienceOf(f);
    const answered = (d: Answer, label?: string) => {
      answer(res, d, audience, requestId, log, label);
      return true;
    };
    const url = new URL(f.url, deps.publicUrl);
    switch (f.path) {
      case '/oauth2/start':
      // oauth2-proxy's sign-in page with --skip-provider-button: straight to the provider. Its
      // nginx examples name the return URL in `rd` or, on an internal redirect, in the
      // X-Auth-Request-Redirect header; both go through the same open-redirect check.
      case OAUTH2_PROXY_SIGN_IN:
        return answered(
          await engine.start(
            f,
            url.searchParams.get('rd') ?? (f.path === OAUTH2_PROXY_SIGN_IN ? signInRedirect(req) : null),
            url.searchParams.get('retry') === '1',
            url.searchParams.get('hb'),
          ),
        );
      case HANDOFF_PATH:
        return answered(await engine.redeemHandoff(f, url.searchParams.get('ticket')));
      case '/oauth2/callback':
        return answered(await engine.callback(f, url));
      case LOGOUT_PATH:
      case OAUTH2_PROXY_SIGN_OUT: // the same CSRF rules: a cross-site GET only gets the confirmation page
        return answered(await engine.logout(f));
      case SIGNED_OUT_PATH:
        return answered({
          type: 'page',
          status: 200,
          title: 'You are signed out',
          message: 'Your session has ended.',
          link: { href: '/oauth2/start?rd=%2F&retry=1', text: 'Sign in again' },
          setCookies: [],
        });
      case '/oauth2/userinfo': {
        const d = await engine.userinfo(f);
        answer(res, d, 'json', requestId, log, d.type === 'error' ? d.code : 'userinfo');
        return true;
      }
      case '/oauth2/backchannel-logout': {
        if (req.method !== 'POST') {
          res.setHeader('allow', 'POST');
          sendJson(res, 405, { error: 'invalid_request', error_description: 'use POST' }, requestId);
          return true;
        }
        continueBody(res);
        const body = await readSmallBody(req, 64 * 1024);
        if (body === undefined) {
          log.decision = 'body_too_large';
          // The connection ends with the answer: past 1 MiB the rest of the body was not read.
          res.setHeader('connection', 'close');
          sendJson(
            res,
            413,
            { error: 'invalid_request', error_description: 'body larger than 64 KiB' },
            requestId,
          );
          return true;
        }
        // Labelled before the engine runs: a logout token that makes it throw is still counted as one.
        log.decision = 'backchannel_logout';
        const d = await engine.backchannelLogout(f, new URLSearchParams(body));
        answer(res, d, 'json', requestId, log, 'backchannel_logout');
        return true;
      }
      case JWKS_PATH: {
        const signer = engine.ctx.assertions;
        if (!signer) break; // the namespace's 404 below
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.setHeader('allow', 'GET, HEAD');
          sendJson(res, 405, { error: 'invalid_request', error_description: 'use GET' }, requestId);
          return true;
        }
        log.decision = 'jwks';
        sendCacheableJson(res, signer.keys.jwks, requestId, JWKS_MAX_AGE_SECONDS);
        return true;
      }
      case FRONTCHANNEL_LOGOUT_PATH:
        // Always a page (it is rendered in the provider's iframe), whatever the Accept header says.
        return answered(await engine.frontchannelLogout(f, url.searchParams), 'frontchannel_logout');
      // Forward-auth front door (nginx auth_request; Traefik forwardAuth, Caddy forward_auth): the
      // request being authorized is the one the proxy describes in X-Forwarded-*; see forwardAuth.ts.
      case AUTH_REQUEST_PATH:
      case FORWARD_AUTH_PATH: {
        const style = f.path === AUTH_REQUEST_PATH ? 'auth-request' : 'forward-auth';
        await handleForwardAuth(
          { engine, secure, target: engine.ctx.cfg.proxy },
          style,
          req,
          res,
          requestId,
          log,
        );
        return true;
      }
    }
    if (!f.path.startsWith('/oauth2/')) return false;
    return answered(
      audience === 'page'
        ? {
            type: 'page',
            status: 404,
            title: 'Not found',
            message: 'There is no such page.',
            setCookies: [],
          }
        : {
            type: 'json',
            status: 404,
            body: { error: 'not_found', reason: 'no such Gatehouse endpoint', requestId },
            setCookies: [],
          },
      'not_found',
    );
  };
}
