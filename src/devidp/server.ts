// startDevIdp(): wires options, state and the HTTP server together and returns the handle
// tests and the CLI drive. Nothing here outlives stop(): server, sockets, sweeper, delays and
// outbound requests are all closed or cancelled.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendBackchannelLogout } from './backchannel.js';
import { setClaimRule } from './claimRules.js';
import { createContext, type IdpContext } from './context.js';
import { validateIssuerPaths } from './issuerPaths.js';
import { resolveOptions } from './options.js';
import { handleIssuerRequest, type Issuer, ROOT_ENDPOINT_PATHS } from './router.js';
import type { DevIdp, DevIdpIssuer, DevIdpOptions } from './types.js';

const SWEEP_INTERVAL_MS = 10_000;

function sweep(ctx: IdpContext): void {
  const now = ctx.now();
  ctx.tokens.sweep(now);
  ctx.sessions.sweep(now);
  ctx.interactions.sweep(now);
  ctx.devices.sweep(now);
  ctx.pushedRequests.sweep(now);
  ctx.claimOverrides.sweep(now);
}

/** IPv6 literals need brackets in a URL; 0.0.0.0/:: are kept as given (the user chose them). */
function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** One issuer's state, from the options: the root's, or a tenant's own copy of everything. */
function createIssuer(opts: DevIdpOptions): Issuer {
  const ctx = createContext(resolveOptions(opts));
  return {
    ctx,
    ops: {
      rotateKeys: () => ctx.keys.rotate(),
      revoke: (sub) => ctx.tokens.revokeSubject(sub, ctx.now()),
    },
  };
}

/** The in-process controls of one issuer (DevIdp for the root, DevIdp.tenant(name) for a tenant). */
function issuerHandle({ ctx, ops }: Issuer): DevIdpIssuer {
  return {
    issuer: ctx.issuer,
    stats: () => ctx.stats.snapshot(),
    reset: () => ctx.stats.reset(),
    setProfiles: (p) => ctx.profiles.replace(p),
    profiles: () => ctx.profiles.list(),
    rotateKeys: ops.rotateKeys,
    revoke: ops.revoke,
    backchannelLogout: (p) => sendBackchannelLogout(ctx, p),
    onTokens: (listener) => ctx.tokenWatch.add(listener),
    // Per-test claims and users: the same checks as POST /__admin/claims and /__admin/users.
    setClaims: (rule) => setClaimRule(ctx, rule),
    pendingClaims: () => ctx.claimOverrides.list(),
    clearClaims: () => ctx.claimOverrides.clear(),
    addUser: (user) => ({ ...ctx.users.add(user) }),
  };
}

export async function startDevIdp(opts: DevIdpOptions = {}): Promise<DevIdp> {
  const names = validateIssuerPaths(opts.issuerPaths, ROOT_ENDPOINT_PATHS);
  const root = createIssuer(opts);
  const { ctx } = root;
  // Each tenant resolves the same options into state of its own (keys, users, clients, stores).
  const tenants = new Map(names.map((name) => [name, createIssuer(opts)]));
  const all = [root, ...tenants.values()];
  root.ops.tenants = () => [...tenants].map(([name, t]) => ({ name, issuer: t.ctx.issuer }));
  // 64 KiB of headers: under huge-groups a bearer access token alone is over 20 KB (Node allows 16 KiB).
  const server = createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
    void handleIssuerRequest(root, tenants, req, res);
  });
  // Malformed HTTP never reaches a handler; answer 400 instead of dropping the connection.
  server.on('clientError', (_err, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(ctx.options.port, ctx.options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  ctx.issuer = `http://${urlHost(ctx.options.host)}:${port}`;
  for (const [name, t] of tenants) t.ctx.issuer = `${ctx.issuer}/${name}`;
  server.on('error', (err) => ctx.log(`dev-idp: server error: ${err.message}`));

  const sweeper = setInterval(() => {
    for (const i of all) sweep(i.ctx);
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= new Promise<void>((resolve) => {
      clearInterval(sweeper);
      for (const i of all) i.ctx.lifecycle.stop();
      server.close(() => resolve());
      // close() alone waits for keep-alive sockets to idle out; a test must not wait 5 s.
      server.closeAllConnections();
    });
    return stopping;
  };

  const tenantHandles = new Map([...tenants].map(([name, t]) => [name, issuerHandle(t)]));
  return {
    ...issuerHandle(root),
    port,
    stop,
    tenants: () => [...tenantHandles.keys()],
    tenant: (name) => {
      const handle = tenantHandles.get(name);
      if (handle === undefined) {
        const known = names.length > 0 ? names.join(', ') : 'none (see the issuerPaths option)';
        throw new Error(`no tenant "${name}" (tenants: ${known})`);
      }
      return handle;
    },
  };
}
