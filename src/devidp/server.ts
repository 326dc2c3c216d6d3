// startDevIdp(): wires options, state and the HTTP server together and returns the handle
// tests and the CLI drive. Nothing here outlives stop(): server, sockets, sweeper, delays and
// outbound requests are all closed or cancelled.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminOps } from './admin.js';
import { sendBackchannelLogout } from './backchannel.js';
import { setClaimRule } from './claimRules.js';
import { createContext, type IdpContext } from './context.js';
import { resolveOptions } from './options.js';
import { handleRequest } from './router.js';
import type { DevIdp, DevIdpOptions } from './types.js';

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

export async function startDevIdp(opts: DevIdpOptions = {}): Promise<DevIdp> {
  const ctx = createContext(resolveOptions(opts));
  const ops: AdminOps = {
    rotateKeys: () => ctx.keys.rotate(),
    revoke: (sub) => ctx.tokens.revokeSubject(sub, ctx.now()),
  };
  // 64 KiB of headers: under huge-groups a bearer access token alone is over 20 KB (Node allows 16 KiB).
  const server = createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
    void handleRequest(ctx, ops, req, res);
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
  server.on('error', (err) => ctx.log(`dev-idp: server error: ${err.message}`));

  const sweeper = setInterval(() => sweep(ctx), SWEEP_INTERVAL_MS);
  sweeper.unref();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= new Promise<void>((resolve) => {
      clearInterval(sweeper);
      ctx.lifecycle.stop();
      server.close(() => resolve());
      // close() alone waits for keep-alive sockets to idle out; a test must not wait 5 s.
      server.closeAllConnections();
    });
    return stopping;
  };

  return {
    issuer: ctx.issuer,
    port,
    stop,
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
