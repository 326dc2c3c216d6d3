// HTML pages: the login page and the error / signed-out pages. Plain server-rendered forms
// with labels and no script, so they work in any browser, headless Chromium and screen readers.
import { escapeHtml } from './http.js';
import type { DevUser } from './types.js';

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1d21}
main{max-width:34rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin-top:0}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
ul{list-style:none;padding:0;margin:0}li{margin:.4rem 0}
button{font:inherit;cursor:pointer;border:1px solid #8a8f98;border-radius:6px;background:#fff;padding:.5rem .9rem}
textarea{font:12px/1.4 ui-monospace,monospace;width:100%;box-sizing:border-box}
button:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid #2b6cb0;outline-offset:2px}
.user{display:block;width:100%;text-align:left}.user small{display:block;color:#4a4f57}
input[type=text]{font:inherit;padding:.45rem;border:1px solid #8a8f98;border-radius:6px;width:100%;box-sizing:border-box;margin:.3rem 0 .6rem}
.error{background:#fde8e8;border:1px solid #c53030;padding:.6rem;border-radius:6px}
.muted{color:#4a4f57}code{background:#eef0f3;padding:0 .25rem;border-radius:3px}`;

export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Gatehouse dev IdP</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

export interface LoginPageInput {
  interaction: string;
  users: readonly DevUser[];
  clientId: string;
  scope: string;
  /** Prefills the text field (login_hint or the name just typed). */
  username?: string | undefined;
  error?: string | undefined;
  /** Prefills the extra-claims fields (the JSON just rejected). */
  claims?: string | undefined;
  /** Where the forms post: the issuer's /login (a tenant's is under its path); default /login. */
  action?: string | undefined;
}

/** Optional per-login claims; one field per form, because a field belongs to one form. */
function claimsField(id: string, value: string | undefined): string {
  const open = value !== undefined && value !== '' ? ' open' : '';
  return `<details${open}><summary>Extra claims (JSON)</summary>
<label for="${id}">Extra claims for this login, as a JSON object</label>
<textarea id="${id}" name="claims" rows="3" placeholder='{"department":"sales"}'>${escapeHtml(value ?? '')}</textarea>
</details>`;
}

export function loginPage(p: LoginPageInput): string {
  const hidden = `<input type="hidden" name="interaction" value="${escapeHtml(p.interaction)}">`;
  const users = p.users
    .map((u) => {
      const groups = u.groups.length > 0 ? u.groups.join(', ') : 'no groups';
      return `<li><button class="user" type="submit" name="user" value="${escapeHtml(u.username)}">${escapeHtml(u.name)}
<small>${escapeHtml(u.username)} · ${escapeHtml(u.email)} · ${escapeHtml(groups)}</small></button></li>`;
    })
    .join('\n');
  const action = escapeHtml(p.action ?? '/login');
  const error = p.error ? `<p class="error" role="alert">${escapeHtml(p.error)}</p>` : '';
  // Three forms rather than one: pressing Enter in the text field submits its own form, not the
  // first user button (implicit submission uses a form's first submit button).
  return layout(
    'Sign in',
    `<h1>Sign in</h1>
<p class="muted">Client <code>${escapeHtml(p.clientId)}</code> asks for <code>${escapeHtml(p.scope)}</code>.</p>
${error}
<form method="post" action="${action}" aria-labelledby="pick">
${hidden}
<h2 id="pick">Pick a user</h2>
<ul>
${users}
</ul>
${claimsField('claims-pick', p.claims)}
</form>
<form method="post" action="${action}" aria-labelledby="type">
${hidden}
<h2 id="type">Or type a username</h2>
<label for="username">Username or e-mail</label>
<input id="username" name="username" type="text" autocomplete="username" required value="${escapeHtml(p.username ?? '')}">
${claimsField('claims-type', p.claims)}
<button type="submit">Sign in</button>
</form>
<form method="post" action="${action}">
${hidden}
<input type="hidden" name="action" value="cancel">
<h2>Or refuse</h2>
<button type="submit">Cancel (access_denied)</button>
</form>`,
  );
}

export function errorPage(title: string, message: string, code?: string): string {
  const detail = code ? `<p class="muted">Error code: <code>${escapeHtml(code)}</code></p>` : '';
  return layout(
    title,
    `<h1>${escapeHtml(title)}</h1>\n<p role="alert">${escapeHtml(message)}</p>\n${detail}`,
  );
}

export function signedOutPage(): string {
  return layout(
    'Signed out',
    '<h1>Signed out</h1>\n<p>Your dev IdP session has ended. You can close this page.</p>',
  );
}

export interface IndexPageInput {
  issuer: string;
  /** The discovery document's path on this server (a tenant's is under its path). */
  discoveryPath?: string;
  profiles: readonly string[];
  users: readonly DevUser[];
}

export function indexPage(p: IndexPageInput): string {
  const profiles = p.profiles.length > 0 ? p.profiles.map(escapeHtml).join(', ') : 'none';
  const discovery = escapeHtml(p.discoveryPath ?? '/.well-known/openid-configuration');
  const users = p.users
    .map((u) => `<li><code>${escapeHtml(u.username)}</code> — ${escapeHtml(u.email)}</li>`)
    .join('');
  return layout(
    'Dev IdP',
    `<h1>Gatehouse dev IdP</h1>
<p>Issuer <code>${escapeHtml(p.issuer)}</code> — discovery at
<a href="${discovery}">${discovery}</a>.</p>
<p>Active profiles: ${profiles}</p>
<h2>Users</h2><ul>${users}</ul>`,
  );
}
