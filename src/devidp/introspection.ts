// POST /introspect (RFC 7662): what a resource server (a gateway accepting opaque tokens) asks
// about an access token. The caller must authenticate as a client; the answer is looked up in the
// token store, so a revoked (RFC 7009) or expired token is `active: false` at once. Failure
// profiles: introspection-5xx (503), introspection-slow (each answer delayed by token-delay-ms).
import { accessIdentityClaims } from './accessToken.js';
import { readClientForm } from './clientAuth.js';
import { type Handler, oauthError } from './context.js';
import { answersDown, waitsInQueue } from './endpointFaults.js';
import { readBody, sendJson } from './http.js';

export const handleIntrospect: Handler = async (ctx, req, res) => {
  const body = await readBody(req);
  if (!(await waitsInQueue(ctx, req, res, 'introspection-slow'))) return;
  if (answersDown(ctx, res, 'introspection-5xx', 'introspection')) return;
  const form = readClientForm(ctx, req, res, body);
  if (!form) return;
  const token = form.values.token;
  if (!token) {
    oauthError(ctx, res, 400, 'invalid_request', 'token is required');
    return;
  }
  // Refresh tokens are not introspected here (token_type_hint is only a hint): a resource
  // server has no business with them, and answering "inactive" leaks nothing.
  const grant = ctx.tokens.lookupAccess(token, ctx.now());
  const user = grant?.subject === 'user' ? ctx.users.bySub(grant.sub) : undefined;
  if (grant === undefined || (grant.subject === 'user' && user === undefined)) {
    sendJson(res, 200, { active: false });
    return;
  }
  sendJson(res, 200, {
    ...accessIdentityClaims(ctx, grant),
    active: true,
    iss: ctx.issuer,
    sub: grant.sub,
    aud: grant.audience,
    client_id: grant.clientId,
    ...(grant.scope === '' ? {} : { scope: grant.scope }),
    ...(user === undefined ? {} : { username: user.username }),
    token_type: 'Bearer',
    iat: grant.iat,
    ...(grant.exp === undefined ? {} : { exp: grant.exp }),
    ...(grant.sid === undefined ? {} : { sid: grant.sid }),
  });
};
