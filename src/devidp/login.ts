// POST /login: the answer of the login page. The interaction id ties the answer to one pending
// authorization request; it is single-use and expires, like a real IdP's login transaction.
import { redirectError, redirectLoggedIn } from './authorize.js';
import { ClaimsError, validateClaims } from './claimOverrides.js';
import { type Handler, pathOnIssuer } from './context.js';
import { isFormRequest, readBody, sendHtml, singleParams } from './http.js';
import { errorPage, loginPage } from './pages.js';

/** The login page's optional "extra claims (JSON)" field; throws ClaimsError with the reason. */
function formClaims(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ClaimsError(`not valid JSON (${(err as Error).message})`);
  }
  return validateClaims(parsed);
}

export const handleLogin: Handler = async (ctx, req, res) => {
  const body = await readBody(req);
  if (!isFormRequest(req)) {
    sendHtml(
      res,
      400,
      errorPage('Bad request', 'The login form must be posted as application/x-www-form-urlencoded.'),
    );
    return;
  }
  const { values } = singleParams(new URLSearchParams(body.toString('utf8')));
  const id = values.interaction ?? '';
  const request = ctx.interactions.get(id, ctx.now());
  if (request === undefined) {
    sendHtml(
      res,
      400,
      errorPage(
        'This sign-in has expired',
        'The login request expired or was already used. Go back to the application and sign in again.',
      ),
    );
    return;
  }
  if (values.action === 'cancel') {
    ctx.interactions.delete(id);
    redirectError(ctx, res, request, 'access_denied', 'the user cancelled the login');
    return;
  }
  const typed = values.user ?? values.username ?? '';
  // The interaction stays usable: the page comes back with the typed values and the reason.
  const reshow = (error: string, claims?: string): void =>
    sendHtml(
      res,
      400,
      loginPage({
        interaction: id,
        users: ctx.users.list(),
        clientId: request.clientId,
        scope: request.scope,
        username: typed,
        action: pathOnIssuer(ctx, '/login'),
        claims,
        error,
      }),
    );
  const user = ctx.users.find(typed);
  if (user === undefined) {
    reshow(typed.trim() === '' ? 'Pick a user or type a username.' : `No user named "${typed}".`);
    return;
  }
  let extraClaims: Record<string, unknown> | undefined;
  try {
    extraClaims = formClaims(values.claims);
  } catch (err) {
    if (!(err instanceof ClaimsError)) throw err;
    // The interaction stays usable: the user fixes the JSON and submits again.
    reshow(`Extra claims: ${err.message}`, values.claims);
    return;
  }
  ctx.interactions.delete(id);
  redirectLoggedIn(ctx, res, request, user, undefined, extraClaims);
};
