// Shared helpers for the dev IdP suite: an openid-client relying party and the few raw HTTP
// calls a conformance test needs to make by hand.
import assert from 'node:assert/strict';
import { before } from 'node:test';
import { inspect } from 'node:util';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import * as client from 'openid-client';
import type { DevIdpIssuer } from '../../src/devidp/index.js';

export { startTestIdp, useTestIdp } from '../helpers/devIdp.js';
export { client };

/** Nothing listens here: the tests read the Location header and never follow it. */
export const REDIRECT_URI = 'http://127.0.0.1:51999/callback';
export const CLIENT_ID = 'gatehouse';
export const CLIENT_SECRET = 'gatehouse-dev-secret';

export async function relyingParty(
  idp: DevIdpIssuer,
  auth: 'post' | 'basic' = 'post',
): Promise<client.Configuration> {
  const clientAuth =
    auth === 'basic' ? client.ClientSecretBasic(CLIENT_SECRET) : client.ClientSecretPost(CLIENT_SECRET);
  return client.discovery(new URL(idp.issuer), CLIENT_ID, undefined, clientAuth, {
    execute: [client.allowInsecureRequests],
  });
}

/**
 * A relying party for the suite's IdP (see useTestIdp), discovered in a `before` registered after
 * the IdP's, so `rp.config` is ready in every test.
 */
export function useRelyingParty(idp: DevIdpIssuer): { readonly config: client.Configuration } {
  const rp = {} as { config: client.Configuration };
  before(async () => {
    rp.config = await relyingParty(idp);
  });
  return rp;
}

export interface AuthorizeResult {
  callback: URL;
  verifier: string;
  state: string;
  nonce: string;
}

/** A fresh authorization request (PKCE S256, state, nonce) for the test client. */
export async function authorizationRequest(
  config: client.Configuration,
  params: Record<string, string> = {},
  scope = 'openid email profile offline_access',
): Promise<{ url: URL; verifier: string; state: string; nonce: string }> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
}

/** Runs /authorize (auto-login or login_hint) and returns the callback URL the IdP redirected to. */
export async function authorize(
  config: client.Configuration,
  params: Record<string, string> = {},
): Promise<AuthorizeResult> {
  const { url, verifier, state, nonce } = await authorizationRequest(config, params);
  const res = await fetch(url, { redirect: 'manual' });
  assert.equal(res.status, 302, `authorize answered ${res.status}: ${await res.text()}`);
  const location = res.headers.get('location');
  assert.ok(location, 'authorize redirect without Location');
  return { callback: new URL(location), verifier, state, nonce };
}

export type Tokens = Awaited<ReturnType<typeof client.authorizationCodeGrant>>;

/** A full login: authorize, then the code grant with every check openid-client offers. */
export async function login(
  config: client.Configuration,
  params: Record<string, string> = {},
): Promise<Tokens> {
  const a = await authorize(config, params);
  return client.authorizationCodeGrant(config, a.callback, {
    pkceCodeVerifier: a.verifier,
    expectedState: a.state,
    expectedNonce: a.nonce,
  });
}

export function basicAuth(id = CLIENT_ID, secret = CLIENT_SECRET): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function parse(res: Response): Promise<RawResponse> {
  const text = await res.text();
  let json: Record<string, unknown> = {};
  if (text !== '') {
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = { _text: text };
    }
  }
  return { status: res.status, headers: res.headers, json };
}

/** A token request by hand, for the cases openid-client would refuse to send. */
export async function tokenRequest(
  idp: DevIdpIssuer,
  params: Record<string, string>,
  headers: Record<string, string> = { authorization: basicAuth() },
): Promise<RawResponse> {
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
  return parse(res);
}

/** The code grant by hand for `a`, to see the response openid-client would refuse or hide. */
export function codeGrantRequest(
  idp: DevIdpIssuer,
  a: AuthorizeResult,
  overrides: Record<string, string> = {},
): Promise<RawResponse> {
  return tokenRequest(idp, {
    grant_type: 'authorization_code',
    code: a.callback.searchParams.get('code') ?? '',
    redirect_uri: REDIRECT_URI,
    code_verifier: a.verifier,
    ...overrides,
  });
}

export async function getJson(url: string, init: RequestInit = {}): Promise<RawResponse> {
  return parse(await fetch(url, init));
}

/** GET /userinfo with `accessToken` as the bearer token, as a resource server would call it. */
export function userinfo(idp: DevIdpIssuer, accessToken: string | undefined): Promise<RawResponse> {
  return getJson(`${idp.issuer}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
}

export async function admin(
  idp: DevIdpIssuer,
  method: string,
  path: string,
  body?: unknown,
): Promise<RawResponse> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  return parse(await fetch(`${idp.issuer}/__admin/${path}`, init));
}

/** Verifies a JWT against the IdP's published JWKS, as an RP that checks signatures would. */
export async function verifyWithJwks(idp: DevIdpIssuer, jwt: string): Promise<JWTPayload> {
  const jwks = (await getJson(`${idp.issuer}/jwks`)).json as unknown as Parameters<
    typeof createLocalJWKSet
  >[0];
  const { payload } = await jwtVerify(jwt, createLocalJWKSet(jwks), {
    issuer: idp.issuer,
    currentDate: new Date(),
  });
  return payload;
}

export function claimsOf(jwt: string | undefined): JWTPayload {
  assert.ok(jwt, 'expected a JWT');
  return decodeJwt(jwt);
}

export { decodeProtectedHeader };

/** Asserts a promise rejects with an OAuth error response carrying `code`. */
export async function rejectsWithOAuthError(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof client.ResponseBodyError, `expected ResponseBodyError, got ${String(err)}`);
    assert.equal(err.error, code);
    return true;
  });
}

/**
 * Asserts a promise rejects with an openid-client validation failure: `code` is the library's
 * error code, `detail` is matched against its message and cause (which names the claim).
 */
export async function rejectsWithCheck(p: Promise<unknown>, code: string, detail?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    const e = err as { code?: unknown; message?: unknown; cause?: unknown };
    assert.equal(e.code, code, `unexpected error: ${inspect(err)}`);
    if (detail) assert.match(`${String(e.message)} ${inspect(e.cause, { depth: 1 })}`, detail);
    return true;
  });
}
