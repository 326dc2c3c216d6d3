// RFC 8628, the device authorization grant: POST /device_authorization hands a device (a TV, a
// CLI) a device code and a user code; a person enters the user code at /device (devicePage.ts)
// and approves or denies; meanwhile the device polls the token endpoint with
// grant_type=urn:ietf:params:oauth:grant-type:device_code and gets authorization_pending,
// slow_down (polled sooner than the interval: the interval grows by 5 s), access_denied,
// expired_token, or once approved the tokens a code flow would give (refresh token with
// offline_access, ID token with openid).
import { issueAccessToken } from './accessToken.js';
import { requestedAudience, tokenAudience } from './audience.js';
import { readClientForm } from './clientAuth.js';
import { DEVICE_CODE_GRANT, scopesAllowed } from './clients.js';
import { accessTokenTtl, type Handler, type IdpContext, oauthError } from './context.js';
import type { DeviceApproval } from './deviceCodes.js';
import type { GrantOutcome } from './grants.js';
import { readBody, sendJson } from './http.js';
import { issueIdToken } from './idToken.js';
import type { DevUser } from './types.js';

export const DEVICE_PAGE_PATH = '/device';

const fail = (error: string, description: string, status = 400): GrantOutcome => ({
  ok: false,
  status,
  error,
  description,
});

/** The verification URI a person opens, with the user code filled in when given. */
export function verificationUri(ctx: IdpContext, userCode?: string): string {
  const base = `${ctx.issuer}${DEVICE_PAGE_PATH}`;
  return userCode === undefined ? base : `${base}?user_code=${encodeURIComponent(userCode)}`;
}

/** POST /device_authorization (RFC 8628 §3.1): client authentication as at the token endpoint. */
export const handleDeviceAuthorization: Handler = async (ctx, req, res) => {
  const body = await readBody(req);
  const form = readClientForm(ctx, req, res, body);
  if (!form) return;
  const { values, clientId } = form;
  const client = ctx.clients.find(clientId);
  if (client === undefined || !client.grantTypes.includes(DEVICE_CODE_GRANT)) {
    oauthError(ctx, res, 400, 'unauthorized_client', `client ${clientId} may not use ${DEVICE_CODE_GRANT}`);
    return;
  }
  const scope = (values.scope ?? '').trim().replace(/ +/g, ' ');
  const scopes = scope === '' ? [] : scope.split(' ');
  if (!scopesAllowed(scopes, client.scopes)) {
    const extra = scopes.filter((s) => !client.scopes?.includes(s));
    oauthError(ctx, res, 400, 'invalid_scope', `client ${clientId} may not request: ${extra.join(' ')}`);
    return;
  }
  const audience = requestedAudience(values);
  if (!audience.ok) {
    oauthError(ctx, res, 400, audience.error, audience.description);
    return;
  }
  const { deviceCode, request } = ctx.devices.create(
    {
      clientId,
      scope,
      audience: audience.audience,
      ttlMs: ctx.options.deviceCodeTtl * 1000,
      intervalMs: ctx.options.deviceInterval * 1000,
    },
    ctx.now(),
  );
  sendJson(res, 200, {
    device_code: deviceCode,
    user_code: request.userCode,
    verification_uri: verificationUri(ctx),
    verification_uri_complete: verificationUri(ctx, request.userCode),
    expires_in: ctx.options.deviceCodeTtl,
    interval: ctx.options.deviceInterval,
  });
};

/** Whether the approved login may get a refresh token: as the code flow decides it. */
export function deviceOffline(ctx: IdpContext, scope: string): boolean {
  if (ctx.profiles.has('cognito') || ctx.profiles.has('gitlab')) return true;
  return scope.split(' ').includes('offline_access');
}

/**
 * Approves a pending user code as `user`: the /device page after a login, or the admin API.
 * `session` is the login session the approval belongs to (an SSO session reused, or new).
 */
export function approveDevice(
  ctx: IdpContext,
  userCode: string,
  user: DevUser,
  session: { sid: string; authTime: number },
): ReturnType<IdpContext['devices']['decide']> {
  const found = ctx.devices.byUserCode(userCode, ctx.now());
  if (found.kind !== 'ok') return found;
  const approval: DeviceApproval = {
    sub: user.sub,
    sid: session.sid,
    authTime: session.authTime,
    offline: deviceOffline(ctx, found.request.scope),
  };
  return ctx.devices.decide(userCode, approval, ctx.now());
}

/** The token endpoint's device_code grant (RFC 8628 §3.4, §3.5). */
export async function deviceCodeGrant(
  ctx: IdpContext,
  params: Record<string, string>,
  clientId: string,
): Promise<GrantOutcome> {
  const deviceCode = params.device_code;
  if (!deviceCode) return fail('invalid_request', 'device_code is required');
  const now = ctx.now();
  const polled = ctx.devices.poll(deviceCode, clientId, now);
  switch (polled.kind) {
    case 'unknown':
      return fail('invalid_grant', 'unknown device_code');
    case 'wrong_client':
      return fail('invalid_grant', 'device_code was issued to another client');
    case 'redeemed':
      return fail('invalid_grant', 'device_code was already used');
    case 'expired':
      return fail('expired_token', 'the device_code expired before the user approved it; start over');
    case 'denied':
      return fail('access_denied', 'the user denied the device authorization');
    case 'pending':
      return fail('authorization_pending', 'the user has not approved the device yet');
    case 'slow_down':
      return fail(
        'slow_down',
        `polled sooner than the interval; wait ${polled.intervalMs / 1000} s between polls from now on`,
      );
    case 'approved':
      return deviceTokens(ctx, clientId, polled.request, polled.approval, now);
  }
}

async function deviceTokens(
  ctx: IdpContext,
  clientId: string,
  request: { scope: string; audience: string | undefined },
  approval: DeviceApproval,
  now: number,
): Promise<GrantOutcome> {
  const user = ctx.users.bySub(approval.sub);
  if (user === undefined) return fail('invalid_grant', 'the user who approved no longer exists');
  const withRefresh = approval.offline && !ctx.profiles.has('no-refresh-token');
  const refreshExpiry = now + ctx.options.refreshTokenTtl * 1000;
  const family = ctx.tokens.createFamily(
    undefined,
    {
      sub: user.sub,
      clientId,
      scope: request.scope,
      sid: approval.sid,
      authTime: approval.authTime,
      audience: request.audience,
    },
    withRefresh ? refreshExpiry : now + accessTokenTtl(ctx) * 1000,
    now,
  );
  const refreshToken = withRefresh ? ctx.tokens.issueRefresh(family, refreshExpiry) : undefined;
  ctx.stats.grant('device_code');
  const access = await issueAccessToken(
    ctx,
    {
      familyId: family.id,
      sub: user.sub,
      clientId,
      scope: request.scope,
      sid: approval.sid,
      viaRefresh: false,
      audience: tokenAudience(ctx, ctx.clients.find(clientId), request.audience),
      subject: 'user',
    },
    now,
  );
  const idToken = request.scope.split(' ').includes('openid')
    ? await issueIdToken(ctx, {
        user,
        clientId,
        sid: approval.sid,
        authTime: approval.authTime,
        nonce: undefined,
        viaRefresh: false,
        scope: request.scope,
        applyFailures: false,
        now,
      })
    : undefined;
  return {
    ok: true,
    body: {
      access_token: access.token,
      token_type: 'Bearer',
      expires_in: access.expiresIn,
      ...(request.scope === '' ? {} : { scope: request.scope }),
      ...(idToken === undefined ? {} : { id_token: idToken }),
      ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
    },
  };
}
