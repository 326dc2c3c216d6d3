// The admin API under /__admin/. It can revoke tokens and switch failure modes, so it answers
// loopback clients only, and refuses browser requests from other origins (a web page could
// otherwise POST to it through the user's browser, which is on loopback).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendBackchannelLogout } from './backchannel.js';
import { ClaimsError } from './claimOverrides.js';
import { setClaimRule } from './claimRules.js';
import { CONSOLE_CSP, consolePage } from './consolePage.js';
import type { IdpContext } from './context.js';
import { approveDevice } from './deviceGrant.js';
import { deviceSession } from './devicePage.js';
import { FaultRuleError, validateFaultRule } from './faults.js';
import { isLoopbackAddress, parseTarget, readBody, sendHtml, sendJson } from './http.js';
import { UserError } from './users.js';

export interface AdminOps {
  rotateKeys(): void;
  revoke(sub: string): number;
  /** The tenants (issuerPaths) next to this issuer; only the root issuer's admin API lists them. */
  tenants?(): Array<{ name: string; issuer: string }>;
}

// Admin errors are tooling errors, not OAuth responses: they are not counted in stats.errors.
function adminError(
  res: ServerResponse,
  status: number,
  error: string,
  description: string,
  headers = {},
): void {
  sendJson(res, status, { error, error_description: description }, headers);
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const text = (await readBody(req)).toString('utf8').trim();
  if (text === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const optionalString = (v: unknown): v is string | undefined => v === undefined || typeof v === 'string';

type AdminRoute = (
  ctx: IdpContext,
  ops: AdminOps,
  req: IncomingMessage,
  res: ServerResponse,
) => Promise<void>;

// Per-test claims and runtime users (issue 15): kept in their own block.
const claimAndUserRoutes: Record<string, Partial<Record<string, AdminRoute>>> = {
  claims: {
    GET: async (ctx, _ops, _req, res) => sendJson(res, 200, { claims: ctx.claimOverrides.list() }),
    POST: async (ctx, _ops, req, res) => {
      const body = await jsonBody(req);
      if (body === undefined) return adminError(res, 400, 'invalid_request', 'body must be a JSON object');
      try {
        sendJson(res, 200, { added: setClaimRule(ctx, body), claims: ctx.claimOverrides.list() });
      } catch (err) {
        if (!(err instanceof ClaimsError)) throw err;
        adminError(res, 400, 'invalid_request', err.message);
      }
    },
    DELETE: async (ctx, _ops, _req, res) => {
      ctx.claimOverrides.clear();
      sendJson(res, 200, { claims: [] });
    },
  },
  users: {
    GET: async (ctx, _ops, _req, res) => sendJson(res, 200, { users: ctx.users.list() }),
    POST: async (ctx, _ops, req, res) => {
      const body = await jsonBody(req);
      if (body === undefined) return adminError(res, 400, 'invalid_request', 'body must be a JSON object');
      try {
        sendJson(res, 201, { user: ctx.users.add(body) });
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        adminError(res, err.kind === 'duplicate' ? 409 : 400, 'invalid_request', err.message);
      }
    },
  },
};

/** Why a user code cannot be decided, as an admin error. */
function deviceRefusal(res: ServerResponse, kind: 'unknown' | 'expired' | 'decided', userCode: string): void {
  if (kind === 'unknown') {
    adminError(res, 404, 'not_found', `no pending device authorization has user code ${userCode}`);
    return;
  }
  const why = kind === 'expired' ? 'expired' : 'was already approved or denied';
  adminError(res, 409, 'invalid_request', `user code ${userCode} ${why}`);
}

// The device grant's approval without a browser (RFC 8628; devicePage.ts is the browser's way).
const deviceRoutes: Record<string, Partial<Record<string, AdminRoute>>> = {
  'device/approve': {
    POST: async (ctx, _ops, req, res) => {
      const body = await jsonBody(req);
      const userCode = body?.user_code;
      const name = body?.user;
      if (typeof userCode !== 'string' || userCode === '' || typeof name !== 'string' || name === '')
        return adminError(res, 400, 'invalid_request', 'body must be {"user_code":"...","user":"..."}');
      const user = ctx.users.find(name);
      if (user === undefined) return adminError(res, 400, 'invalid_request', `unknown user "${name}"`);
      const found = ctx.devices.byUserCode(userCode, ctx.now());
      if (found.kind !== 'ok') return deviceRefusal(res, found.kind, userCode);
      const session = deviceSession(ctx, user, found.request.clientId, undefined);
      const approved = approveDevice(ctx, userCode, user, session);
      if (approved.kind !== 'ok') return deviceRefusal(res, approved.kind, userCode);
      sendJson(res, 200, {
        approved: true,
        user_code: approved.request.userCode,
        client_id: approved.request.clientId,
        sub: user.sub,
        sid: session.sid,
      });
    },
  },
  'device/deny': {
    POST: async (ctx, _ops, req, res) => {
      const body = await jsonBody(req);
      const userCode = body?.user_code;
      if (typeof userCode !== 'string' || userCode === '')
        return adminError(res, 400, 'invalid_request', 'body must be {"user_code":"..."}');
      const denied = ctx.devices.decide(userCode, 'deny', ctx.now());
      if (denied.kind !== 'ok') return deviceRefusal(res, denied.kind, userCode);
      sendJson(res, 200, {
        denied: true,
        user_code: denied.request.userCode,
        client_id: denied.request.clientId,
      });
    },
  },
};

// The live console (issue 15): its page at /__admin/ and the two feeds only it needs.
const consoleRoutes: Record<string, Partial<Record<string, AdminRoute>>> = {
  '': { GET: async (ctx, _ops, _req, res) => sendHtml(res, 200, consolePage(ctx.issuer), CONSOLE_CSP) },
  events: {
    GET: async (ctx, _ops, req, res) => {
      const raw = parseTarget(req.url).query.get('since') ?? '0';
      const since = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
      if (Number.isNaN(since))
        return adminError(res, 400, 'invalid_request', 'since must be a sequence number');
      sendJson(res, 200, { now: ctx.now(), ...ctx.requestLog.since(since) });
    },
  },
  families: {
    GET: async (ctx, _ops, _req, res) => {
      const now = ctx.now();
      const families = ctx.timelines.list(now, (sid) => ctx.sessions.get(sid, now) !== undefined);
      sendJson(res, 200, { now, families });
    },
  },
};

const routes: Record<string, Partial<Record<string, AdminRoute>>> = {
  ...claimAndUserRoutes,
  ...deviceRoutes,
  ...consoleRoutes,
  stats: { GET: async (ctx, _ops, _req, res) => sendJson(res, 200, ctx.stats.snapshot()) },
  reset: {
    POST: async (ctx, _ops, _req, res) => {
      ctx.stats.reset();
      sendJson(res, 200, { ok: true });
    },
  },
  profiles: {
    GET: async (ctx, _ops, _req, res) => sendJson(res, 200, { profiles: ctx.profiles.list() }),
    PUT: async (ctx, _ops, req, res) => {
      const body = await jsonBody(req);
      const list = body?.profiles;
      if (!Array.isArray(list) || !list.every((p): p is string => typeof p === 'string')) {
        return adminError(res, 400, 'invalid_request', 'body must be {"profiles":["name", ...]}');
      }
      try {
        ctx.profiles.replace(list);
      } catch (err) {
        return adminError(res, 400, 'invalid_request', (err as Error).message);
      }
      sendJson(res, 200, { profiles: ctx.profiles.list() });
    },
  },
  tenants: {
    GET: async (_ctx, ops, _req, res) => {
      if (ops.tenants === undefined)
        return adminError(
          res,
          404,
          'not_found',
          'tenants are listed by the root admin API: GET /__admin/tenants',
        );
      const tenants = ops.tenants().map((t) => ({
        ...t,
        discovery: `${t.issuer}/.well-known/openid-configuration`,
        admin: `${t.issuer}/__admin/`,
      }));
      sendJson(res, 200, { tenants });
    },
  },
  'rotate-keys': {
    POST: async (ctx, ops, _req, res) => {
      ops.rotateKeys();
      sendJson(res, 200, { kids: ctx.keys.kids() });
    },
  },
  revoke: {
    POST: async (_ctx, ops, req, res) => {
      const body = await jsonBody(req);
      if (typeof body?.sub !== 'string' || body.sub === '') {
        return adminError(res, 400, 'invalid_request', 'body must be {"sub":"..."}');
      }
      sendJson(res, 200, { revoked: ops.revoke(body.sub) });
    },
  },
  'backchannel-logout': {
    POST: async (ctx, _ops, req, res) => {
      const body = await jsonBody(req);
      const sub = body?.sub;
      const sid = body?.sid;
      if (!optionalString(sub) || !optionalString(sid) || (!sub && !sid)) {
        return adminError(res, 400, 'invalid_request', 'body must be {"sub":"..."} and/or {"sid":"..."}');
      }
      sendJson(res, 200, await sendBackchannelLogout(ctx, { sub, sid }));
    },
  },
  // Fault injection (docs/dev-idp.md, Admin API: faults). POST adds rules; all or none.
  faults: {
    GET: async (ctx, _ops, _req, res) => sendJson(res, 200, { rules: ctx.faults.list() }),
    POST: async (ctx, _ops, req, res) => {
      const body = await jsonBody(req);
      const list = body?.rules;
      if (!Array.isArray(list)) {
        return adminError(
          res,
          400,
          'invalid_request',
          'rules: body must be {"rules":[{"endpoint":...}, ...]}',
        );
      }
      try {
        ctx.faults.add(list.map((r, i) => validateFaultRule(r, `rules[${i}].`)));
      } catch (err) {
        if (!(err instanceof FaultRuleError)) throw err;
        return adminError(res, 400, 'invalid_request', err.message);
      }
      sendJson(res, 200, { rules: ctx.faults.list() });
    },
    DELETE: async (ctx, _ops, _req, res) => {
      ctx.faults.clear();
      // A key a rotation without overlap held back is published with its rule's end.
      ctx.keys.publish();
      sendJson(res, 200, { rules: [] });
    },
  },
};

export async function handleAdmin(
  ctx: IdpContext,
  ops: AdminOps,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
): Promise<void> {
  if (!isLoopbackAddress(req.socket.remoteAddress)) {
    return adminError(res, 403, 'access_denied', 'the admin API answers loopback clients only');
  }
  const origin = req.headers.origin;
  // An Origin has no path: a tenant's (`<root>/<name>`) is the root's.
  if (origin !== undefined && origin !== new URL(ctx.issuer).origin) {
    return adminError(
      res,
      403,
      'access_denied',
      `cross-origin admin requests are refused (origin ${origin})`,
    );
  }
  const name = pathname.slice('/__admin/'.length);
  // hasOwn: a path like /__admin/constructor must not find Object.prototype members.
  const route = Object.hasOwn(routes, name) ? routes[name] : undefined;
  if (route === undefined) return adminError(res, 404, 'not_found', `no admin endpoint ${pathname}`);
  const method = req.method ?? '';
  const handler = Object.hasOwn(route, method) ? route[method] : undefined;
  if (handler === undefined) {
    const allow = Object.keys(route).join(', ');
    return adminError(res, 405, 'invalid_request', `method ${req.method} not allowed; use ${allow}`, {
      allow,
    });
  }
  await handler(ctx, ops, req, res);
}
