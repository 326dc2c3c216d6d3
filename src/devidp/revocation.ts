// POST /revoke (RFC 7009). Unknown tokens get 200 too: the spec says so, because the client's
// goal (the token is unusable) is met either way.
import { authenticateClient, CLIENT_CHALLENGE } from './clientAuth.js';
import { type Handler, oauthError } from './context.js';
import { isFormRequest, readBody, singleParams } from './http.js';

export const handleRevoke: Handler = async (ctx, req, res) => {
  const body = await readBody(req);
  if (!isFormRequest(req)) {
    oauthError(ctx, res, 400, 'invalid_request', 'content-type must be application/x-www-form-urlencoded');
    return;
  }
  const { values, duplicate } = singleParams(new URLSearchParams(body.toString('utf8')));
  if (duplicate !== undefined) {
    oauthError(ctx, res, 400, 'invalid_request', `parameter ${duplicate} was sent more than once`);
    return;
  }
  const client = authenticateClient(ctx, req, values);
  if (!client.ok) {
    oauthError(
      ctx,
      res,
      client.status,
      client.error,
      client.description,
      client.status === 401 ? CLIENT_CHALLENGE : {},
    );
    return;
  }
  if (!values.token) {
    oauthError(ctx, res, 400, 'invalid_request', 'token is required');
    return;
  }
  ctx.tokens.revokeToken(values.token, client.clientId, ctx.now());
  res.writeHead(200, { 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
};
