// POST /revoke (RFC 7009). Unknown tokens get 200 too: the spec says so, because the client's
// goal (the token is unusable) is met either way.
import { readClientForm } from './clientAuth.js';
import { type Handler, oauthError } from './context.js';
import { readBody } from './http.js';

export const handleRevoke: Handler = async (ctx, req, res) => {
  const body = await readBody(req);
  const form = readClientForm(ctx, req, res, body);
  if (!form) return;
  const { values, clientId } = form;
  if (!values.token) {
    oauthError(ctx, res, 400, 'invalid_request', 'token is required');
    return;
  }
  ctx.tokens.revokeToken(values.token, clientId, ctx.now());
  res.writeHead(200, { 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
};
