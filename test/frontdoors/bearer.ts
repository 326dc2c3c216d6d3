import assert from 'node:assert/strict';
import type { DevIdp } from '../../src/devidp/index.js';
import { relyingParty, login as rpLogin } from '../devidp/helpers.js';
import type { Reply } from '../helpers/browser.js';

/**
 * Bearer tokens at every front door (docs/api-clients.md): the dev IdP's access tokens are RFC 9068
 * JWTs (`typ: at+jwt`) whose `aud` is the client id, so the door config accepts that audience.
 */
export const BEARER_CONFIG = { accept: ['jwt' as const], audiences: ['gatehouse', 'gatehouse-api'] };

/** A path whose rule needs a scope no dev IdP token has: a bearer request there is 403 insufficient_scope. */
export const SCOPED_PATH = '/billing';
export const SCOPED_RULE = { pathPrefix: SCOPED_PATH, requiredScopes: ['billing:read'] };

/** A user's access token from the dev IdP (code flow through openid-client, as an app would get it). */
export async function userAccessToken(idp: DevIdp, user: string): Promise<string> {
  const tokens = await rpLogin(await relyingParty(idp), { login_hint: user });
  return tokens.access_token;
}

/** The same token with its signature altered: well-formed, refused. */
export function tampered(jwt: string): string {
  const [h, p, sig] = jwt.split('.');
  return `${h}.${p}.${sig!.slice(0, -4)}${sig!.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
}

/** What a refused bearer request must look like at the client: RFC 6750 §3, JSON, no redirect, no cookie. */
export function assertBearerRefused(r: Reply, status: 401 | 403, error: string, what = ''): void {
  assert.equal(r.status, status, `${what} ${r.body}`);
  assert.equal(r.location, undefined, `${what}: never a redirect`);
  assert.equal(r.headers['set-cookie'], undefined, `${what}: never a cookie`);
  assert.match(String(r.headers['content-type']), /application\/json/, what);
  assert.equal(r.json().error, error, what);
  const challenge = r.headers['www-authenticate'];
  assert.equal(
    typeof challenge,
    'string',
    `${what}: exactly one WWW-Authenticate, got ${JSON.stringify(challenge)}`,
  );
  assert.match(String(challenge), new RegExp(`^Bearer realm="gatehouse", error="${error}"`), what);
}
