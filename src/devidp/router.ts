// Maps a request to its handler. Every handler runs inside one try/catch so an unexpected
// exception becomes a logged 500 for that request, never a crashed dev IdP.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AdminOps, handleAdmin } from './admin.js';
import { handleAuthorize } from './authorize.js';
import { type Handler, type IdpContext, oauthError, pathOnIssuer } from './context.js';
import { handleDeviceAuthorization } from './deviceGrant.js';
import { handleDevicePage } from './devicePage.js';
import { handleDiscovery, handleJwks, handleTenantDiscovery } from './discovery.js';
import { isFaultEndpoint } from './faults.js';
import { handleGithubEmails, handleGithubOrgs, handleGithubTeams, handleGithubUser } from './github.js';
import { GRAPH_MEMBER_OF_PATH, handleGraphMemberOf } from './graph.js';
import { BodyTooLargeError, parseTarget, sendHtml, sendJson } from './http.js';
import { handleIntrospect } from './introspection.js';
import { handleLogin } from './login.js';
import { handleAuth0Logout, handleCognitoLogout, handleEndSession } from './logout.js';
import { indexPage } from './pages.js';
import { handlePar } from './par.js';
import { handleRegister } from './registration.js';
import { isAdminPath } from './requestLog.js';
import { handleRevoke } from './revocation.js';
import type { RequestKind } from './stats.js';
import { handleToken } from './tokenEndpoint.js';
import { handleGroups, handleUserinfo } from './userinfo.js';

interface Route {
  methods: readonly string[];
  handler: Handler;
  /** Counted in stats.requests whatever the outcome (even a 405). */
  counter?: RequestKind;
}

const READ = ['GET', 'HEAD'] as const;

const handleIndex: Handler = async (ctx, _req, res) => {
  sendHtml(
    res,
    200,
    indexPage({
      issuer: ctx.issuer,
      discoveryPath: pathOnIssuer(ctx, '/.well-known/openid-configuration'),
      profiles: ctx.profiles.list(),
      users: ctx.users.list(),
    }),
  );
};

const ROUTES = new Map<string, Route>([
  ['/', { methods: READ, handler: handleIndex }],
  ['/.well-known/openid-configuration', { methods: READ, handler: handleDiscovery, counter: 'discovery' }],
  ['/jwks', { methods: READ, handler: handleJwks, counter: 'jwks' }],
  ['/authorize', { methods: ['GET', 'POST'], handler: handleAuthorize, counter: 'authorize' }],
  ['/login', { methods: ['POST'], handler: handleLogin }],
  ['/token', { methods: ['POST'], handler: handleToken, counter: 'token' }],
  ['/userinfo', { methods: ['GET', 'POST'], handler: handleUserinfo, counter: 'userinfo' }],
  ['/revoke', { methods: ['POST'], handler: handleRevoke }],
  ['/introspect', { methods: ['POST'], handler: handleIntrospect, counter: 'introspect' }],
  ['/register', { methods: ['POST'], handler: handleRegister, counter: 'register' }],
  // RFC 8628 device grant: the device's endpoint and the page a person approves it on.
  [
    '/device_authorization',
    { methods: ['POST'], handler: handleDeviceAuthorization, counter: 'device_authorization' },
  ],
  ['/device', { methods: ['GET', 'HEAD', 'POST'], handler: handleDevicePage }],
  // RFC 9126 pushed authorization requests; /authorize takes the request_uri.
  ['/par', { methods: ['POST'], handler: handlePar, counter: 'par' }],
  ['/end-session', { methods: ['GET', 'POST'], handler: handleEndSession }],
  ['/logout', { methods: ['GET'], handler: handleCognitoLogout }],
  ['/v2/logout', { methods: ['GET'], handler: handleAuth0Logout }],
  // GitHub's /user endpoints are its userinfo, so they count as userinfo requests. They answer
  // at the root and, as on GitHub Enterprise Server, under /api/v3; its OAuth endpoints answer
  // at GitHub's paths too, so a relying party can use this dev IdP as "GitHub at this URL".
  ...['', '/api/v3'].flatMap(
    (base): Array<[string, Route]> => [
      [`${base}/user`, { methods: ['GET'], handler: handleGithubUser, counter: 'userinfo' }],
      [`${base}/user/emails`, { methods: ['GET'], handler: handleGithubEmails, counter: 'userinfo' }],
      [`${base}/user/orgs`, { methods: ['GET'], handler: handleGithubOrgs, counter: 'userinfo' }],
      [`${base}/user/teams`, { methods: ['GET'], handler: handleGithubTeams, counter: 'userinfo' }],
    ],
  ),
  ['/login/oauth/authorize', { methods: ['GET', 'POST'], handler: handleAuthorize, counter: 'authorize' }],
  ['/login/oauth/access_token', { methods: ['POST'], handler: handleToken, counter: 'token' }],
  [GRAPH_MEMBER_OF_PATH, { methods: ['GET'], handler: handleGraphMemberOf, counter: 'graph' }],
  // Entra's multi-tenant discovery (profile entra-multi-tenant): the issuer is a {tenantid} template.
  ...['common', 'organizations'].map((tenant): [string, Route] => [
    `/${tenant}/v2.0/.well-known/openid-configuration`,
    { methods: READ, handler: handleTenantDiscovery, counter: 'discovery' },
  ]),
]);

const GROUPS_ROUTE: Route = { methods: ['GET', 'POST'], handler: handleGroups };

function findRoute(pathname: string): Route | undefined {
  return ROUTES.get(pathname) ?? (pathname.startsWith('/groups/') ? GROUPS_ROUTE : undefined);
}

async function dispatch(
  ctx: IdpContext,
  ops: AdminOps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { pathname, query } = parseTarget(req.url);
  if (isAdminPath(pathname)) return handleAdmin(ctx, ops, req, res, pathname);
  const route = findRoute(pathname);
  if (route === undefined) {
    sendJson(res, 404, { error: 'not_found', error_description: `no endpoint ${pathname}` });
    return;
  }
  if (route.counter !== undefined) ctx.stats.request(route.counter);
  if (!route.methods.includes(req.method ?? '')) {
    const allow = route.methods.join(', ');
    oauthError(ctx, res, 405, 'invalid_request', `method ${req.method} not allowed; use ${allow}`, { allow });
    return;
  }
  // Injected faults, in one place for every endpoint, keyed by the route's stats counter.
  const kind = route.counter;
  let skewSeconds = ctx.profiles.has('clock-skew') ? CLOCK_SKEW_PROFILE_SECONDS : 0;
  if (kind !== undefined && isFaultEndpoint(kind)) {
    const fire = () => ctx.stats.faultFired(kind);
    const outcome = await ctx.faults.intercept(kind, ctx, req, res, fire);
    if (outcome.answered) return;
    skewSeconds = outcome.skewSeconds ?? skewSeconds;
  }
  await route.handler(skewSeconds === 0 ? ctx : withClockSkew(ctx, res, skewSeconds), req, res, query);
}

/** The clock-skew profile's IdP runs this far ahead (a faults rule with skewSeconds wins). */
export const CLOCK_SKEW_PROFILE_SECONDS = 300;

/**
 * This request's view of an IdP whose clock is off: what it signs carries shifted iat/nbf/exp/
 * auth_time and its Date header says the shifted time; its stores keep the true clock, so codes
 * and refresh tokens expire as they would.
 */
function withClockSkew(ctx: IdpContext, res: ServerResponse, skewSeconds: number): IdpContext {
  res.setHeader('date', new Date(ctx.now() + skewSeconds * 1000).toUTCString());
  return { ...ctx, keys: ctx.keys.withClockSkew(skewSeconds) };
}

async function handleRequest(
  ctx: IdpContext,
  ops: AdminOps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  ctx.requestLog.watch(req, res, () => ctx.now()); // the live console's request log (requestLog.ts)
  try {
    await dispatch(ctx, ops, req, res);
  } catch (err) {
    // The client went away mid-request (e.g. aborted while sending its body): nobody to answer.
    if (req.socket.destroyed) return;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof BodyTooLargeError) {
      // The rest of the body is not read, so this connection cannot be reused.
      oauthError(ctx, res, 413, 'invalid_request', err.message, { connection: 'close' });
      return;
    }
    ctx.log(`dev-idp: internal error on ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
    oauthError(ctx, res, 500, 'server_error', 'unexpected error in the dev IdP (see its log)');
  }
}

/** Every root endpoint's path, so an issuer name cannot shadow one (issuerPaths.ts). */
export const ROOT_ENDPOINT_PATHS: readonly string[] = [...ROUTES.keys(), '/groups/'];

/** One issuer's state and the admin operations on it. */
export interface Issuer {
  ctx: IdpContext;
  ops: AdminOps;
}

/**
 * Tenants (issuerPaths): a target under `/<name>` goes to that issuer's own state, through the
 * same tables, with the prefix stripped so each handler sees the path it would see at the root
 * (its own URLs come from ctx.issuer, which carries the prefix). Names never nest, so at most
 * one matches; everything else is the root issuer's, exactly as without tenants.
 */
export function handleIssuerRequest(
  root: Issuer,
  tenants: ReadonlyMap<string, Issuer>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const target = req.url ?? '/';
  for (const [name, tenant] of tenants) {
    const prefix = `/${name}`;
    const next = target.charAt(prefix.length);
    if (target.startsWith(prefix) && (next === '' || next === '/' || next === '?')) {
      const rest = target.slice(prefix.length);
      req.url = rest.startsWith('/') ? rest : `/${rest}`;
      return handleRequest(tenant.ctx, tenant.ops, req, res);
    }
  }
  return handleRequest(root.ctx, root.ops, req, res);
}
