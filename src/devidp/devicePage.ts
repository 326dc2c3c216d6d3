// GET/POST /device: where a person enters the user code a device shows (RFC 8628 §3.3) and
// approves or denies it. `?user_code=` (verification_uri_complete) pre-fills the code. Who
// approves: the --auto-login user, else the user of this browser's SSO session (the code flow's
// cookie), else whoever the person picks or types, as on the login page. Approving logs that
// user in here (an IdP session and the SSO cookie), so the device's tokens carry a real `sid`.
// Plain forms, no script, like every page of the dev IdP.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Handler, type IdpContext, pathOnIssuer } from './context.js';
import type { DeviceRequest } from './deviceCodes.js';
import { approveDevice, DEVICE_PAGE_PATH } from './deviceGrant.js';
import { sessionCookie, sessionCookieSid } from './frontchannel.js';
import { escapeHtml, isFormRequest, readBody, sendHtml, singleParams } from './http.js';
import { errorPage, layout } from './pages.js';
import type { DevUser } from './types.js';

/** A login session for a device approval: the browser's SSO session when it is this user's. */
export function deviceSession(
  ctx: IdpContext,
  user: DevUser,
  clientId: string,
  sso: { sid: string; sub: string; clientId: string; authTime: number } | undefined,
): { sid: string; authTime: number; fresh: boolean } {
  const now = ctx.now();
  const same = sso !== undefined && sso.sub === user.sub;
  const authTime = same ? sso.authTime : Math.floor(now / 1000);
  if (same && sso.clientId === clientId) return { sid: sso.sid, authTime, fresh: false };
  const ttlMs = Math.max(ctx.options.refreshTokenTtl, 3600) * 1000;
  const sid = ctx.sessions.create(user.sub, clientId, now + ttlMs, authTime);
  // Per-test claims are taken per login, as in the code flow (authorize.ts completeLogin).
  ctx.claimOverrides.bind(sid, ctx.claimOverrides.takeForLogin(user.username), now + ttlMs);
  return { sid, authTime, fresh: true };
}

function ssoOf(ctx: IdpContext, req: IncomingMessage) {
  const sid = sessionCookieSid(req, ctx.issuer);
  const session = sid === undefined ? undefined : ctx.sessions.get(sid, ctx.now());
  if (sid === undefined || session === undefined || ctx.users.bySub(session.sub) === undefined)
    return undefined;
  return { sid, ...session };
}

/** `action`: this issuer's /device (a tenant's is under its path). */
function codePage(action: string, userCode: string, error?: string): string {
  const alert = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '';
  return layout(
    'Connect a device',
    `<h1>Connect a device</h1>
<p class="muted">Enter the code your device shows.</p>
${alert}
<form method="post" action="${escapeHtml(action)}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" type="text" autocomplete="off" autocapitalize="characters" required placeholder="BCDF-GHJK" value="${escapeHtml(userCode)}">
<button type="submit">Continue</button>
</form>`,
  );
}

function consentPage(
  action: string,
  request: DeviceRequest,
  users: readonly DevUser[],
  known: DevUser | undefined,
  error?: string,
): string {
  const code = `<input type="hidden" name="user_code" value="${escapeHtml(request.userCode)}">`;
  const alert = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '';
  const approveKnown =
    known === undefined
      ? ''
      : `<form method="post" action="${escapeHtml(action)}">
${code}
<input type="hidden" name="action" value="approve">
<input type="hidden" name="user" value="${escapeHtml(known.username)}">
<button type="submit">Approve as ${escapeHtml(known.name)} (${escapeHtml(known.username)})</button>
</form>`;
  const list = users
    .map(
      (u) =>
        `<li><button class="user" type="submit" name="user" value="${escapeHtml(u.username)}">${escapeHtml(u.name)}
<small>${escapeHtml(u.username)} · ${escapeHtml(u.email)}</small></button></li>`,
    )
    .join('\n');
  return layout(
    'Approve a device',
    `<h1>Approve a device</h1>
<p class="muted">Code <code>${escapeHtml(request.userCode)}</code>: client <code>${escapeHtml(request.clientId)}</code> asks for <code>${escapeHtml(request.scope || '(no scope)')}</code>.</p>
${alert}
${approveKnown}
<form method="post" action="${escapeHtml(action)}" aria-labelledby="pick">
${code}
<input type="hidden" name="action" value="approve">
<h2 id="pick">${known === undefined ? 'Sign in and approve as' : 'Or approve as someone else'}</h2>
<ul>
${list}
</ul>
</form>
<form method="post" action="${escapeHtml(action)}" aria-labelledby="type">
${code}
<input type="hidden" name="action" value="approve">
<h2 id="type">Or type a username</h2>
<label for="username">Username or e-mail</label>
<input id="username" name="user" type="text" autocomplete="username" required>
<button type="submit">Sign in and approve</button>
</form>
<form method="post" action="${escapeHtml(action)}">
${code}
<input type="hidden" name="action" value="deny">
<h2>Or refuse</h2>
<button type="submit">Deny (access_denied)</button>
</form>`,
  );
}

function donePage(title: string, message: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1>\n<p role="status">${escapeHtml(message)}</p>`);
}

const NOT_FOUND = {
  unknown: 'No device is waiting for this code. Check the code on the device.',
  expired: 'This code has expired. Start again on the device.',
  decided: 'This code was already used.',
} as const;

export const handleDevicePage: Handler = async (ctx, req, res, query) => {
  if (req.method !== 'POST') {
    sendHtml(res, 200, codePage(pathOnIssuer(ctx, DEVICE_PAGE_PATH), query.get('user_code') ?? ''));
    return;
  }
  const body = await readBody(req);
  if (!isFormRequest(req)) {
    sendHtml(
      res,
      400,
      errorPage('Bad request', 'The form must be posted as application/x-www-form-urlencoded.'),
    );
    return;
  }
  const { values } = singleParams(new URLSearchParams(body.toString('utf8')));
  const typed = values.user_code ?? '';
  const found = ctx.devices.byUserCode(typed, ctx.now());
  if (found.kind !== 'ok') {
    sendHtml(
      res,
      typed.trim() === '' ? 400 : 404,
      codePage(
        pathOnIssuer(ctx, DEVICE_PAGE_PATH),
        typed,
        typed.trim() === '' ? 'Enter the code.' : NOT_FOUND[found.kind],
      ),
    );
    return;
  }
  const request = found.request;
  const sso = ssoOf(ctx, req);
  const known = ctx.options.autoLogin ?? (sso === undefined ? undefined : ctx.users.bySub(sso.sub));
  if (values.action === 'deny') {
    ctx.devices.decide(typed, 'deny', ctx.now());
    sendHtml(
      res,
      200,
      donePage('Device denied', 'The device will not be signed in. You can close this page.'),
    );
    return;
  }
  if (values.action !== 'approve') {
    sendHtml(res, 200, consentPage(pathOnIssuer(ctx, DEVICE_PAGE_PATH), request, ctx.users.list(), known));
    return;
  }
  const name = values.user ?? '';
  const user = name === '' ? known : ctx.users.find(name);
  if (user === undefined) {
    const why = name.trim() === '' ? 'Pick a user or type a username.' : `No user named "${name}".`;
    sendHtml(
      res,
      400,
      consentPage(pathOnIssuer(ctx, DEVICE_PAGE_PATH), request, ctx.users.list(), known, why),
    );
    return;
  }
  const session = deviceSession(ctx, user, request.clientId, sso);
  const approved = approveDevice(ctx, typed, user, session);
  if (approved.kind !== 'ok') {
    sendHtml(res, 404, codePage(pathOnIssuer(ctx, DEVICE_PAGE_PATH), typed, NOT_FOUND[approved.kind]));
    return;
  }
  setSso(ctx, res, session);
  sendHtml(
    res,
    200,
    donePage(
      'Device approved',
      `Signed in as ${user.username}. Return to your device; you can close this page.`,
    ),
  );
};

function setSso(ctx: IdpContext, res: ServerResponse, session: { sid: string; fresh: boolean }): void {
  if (session.fresh) res.setHeader('set-cookie', sessionCookie(ctx.issuer, session.sid));
}
