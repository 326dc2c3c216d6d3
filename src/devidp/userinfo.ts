// Resource endpoints that take the access token: /userinfo and the Entra-style distributed
// groups source /groups/<sub>.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { effectiveGroups, identityClaims } from './claims.js';
import { type Handler, type IdpContext, oauthError } from './context.js';
import { answersDown } from './endpointFaults.js';
import { bearerToken, sendJson } from './http.js';
import type { AccessGrant } from './tokens.js';
import type { DevUser } from './types.js';

export interface Authenticated {
  grant: AccessGrant;
  user: DevUser;
}

/** The grant and user behind the request's bearer token, or a 401 already sent (RFC 6750 §3). */
export function authenticateBearer(
  ctx: IdpContext,
  req: IncomingMessage,
  res: ServerResponse,
): Authenticated | undefined {
  const token = bearerToken(req.headers.authorization);
  const grant = token === undefined ? undefined : ctx.tokens.lookupAccess(token, ctx.now());
  const user = grant === undefined ? undefined : ctx.users.bySub(grant.sub);
  if (grant === undefined || user === undefined) {
    const description =
      token === undefined ? 'missing bearer token' : 'access token is unknown, expired or revoked';
    oauthError(ctx, res, 401, 'invalid_token', description, {
      'www-authenticate': `Bearer realm="dev-idp", error="invalid_token", error_description="${description}"`,
    });
    return undefined;
  }
  return { grant, user };
}

/** userinfo-5xx: answers 503 and returns true (the caller stops). */
export function userinfoDown(ctx: IdpContext, res: ServerResponse): boolean {
  return answersDown(ctx, res, 'userinfo-5xx', 'userinfo');
}

export const handleUserinfo: Handler = async (ctx, req, res) => {
  if (userinfoDown(ctx, res)) return;
  const auth = authenticateBearer(ctx, req, res);
  if (auth === undefined) return;
  const { user, grant } = auth;
  // userinfo-sub-mismatch: the RP must compare this with the ID token's sub (OIDC Core §5.3.2).
  const sub = ctx.profiles.has('userinfo-sub-mismatch') ? `${user.sub}-mismatch` : user.sub;
  sendJson(res, 200, {
    sub,
    ...identityClaims(ctx, user, 'userinfo', grant.viaRefresh, grant.scope),
    ...ctx.claimOverrides.forSession(grant.sid, ctx.now()),
  });
};

/**
 * The claim source named by azure-group-overage. With `Accept: application/jwt` it answers a JWT
 * signed with the IdP's key (`groups`, `sub`, `iss`), as OIDC Core §5.6.2 has claims providers
 * do. Otherwise it answers GET (OIDC distributed claims shape,
 * `groups`) and POST (Graph getMemberObjects shape, `value`) with both members, so a gateway
 * written against either works. Real Graph returns object ids; names keep test rules readable.
 */
export const handleGroups: Handler = async (ctx, req, res) => {
  const auth = authenticateBearer(ctx, req, res);
  if (auth === undefined) return;
  const path = (req.url ?? '').split('?')[0] ?? '';
  let sub: string;
  try {
    sub = decodeURIComponent(path.slice('/groups/'.length));
  } catch {
    sub = '';
  }
  if (sub !== auth.user.sub) {
    oauthError(ctx, res, 403, 'insufficient_scope', 'the access token belongs to another subject');
    return;
  }
  const groups = effectiveGroups(ctx, auth.user, auth.grant.viaRefresh);
  if (/\bapplication\/jwt\b/i.test(req.headers.accept ?? '')) {
    // OIDC Core §5.6.2: a claims provider answers with a JWT it signs (here: the IdP's own key).
    const now = Math.floor(ctx.now() / 1000);
    const jwt = await ctx.keys.sign(
      { iss: ctx.issuer, sub: auth.user.sub, aud: ctx.options.clientId, iat: now, exp: now + 300, groups },
      { typ: 'JWT' },
    );
    res.writeHead(200, {
      'content-type': 'application/jwt',
      'content-length': Buffer.byteLength(jwt),
      'cache-control': 'no-store',
    });
    res.end(jwt);
    return;
  }
  sendJson(res, 200, { groups, value: groups });
};
