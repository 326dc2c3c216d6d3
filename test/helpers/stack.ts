import { loadConfig } from '../../src/config/load.js';
import type { GatehouseConfig } from '../../src/config/schema.js';
import type { DevIdp, DevIdpOptions } from '../../src/devidp/index.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import type { SessionStore } from '../../src/session/store.js';
import type { Clock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { type Reply, TestBrowser } from './browser.js';
import { startTestIdp } from './devIdp.js';
import { jsonLogSink } from './logSink.js';
import { freePort } from './ports.js';
import { type EchoUpstream, startEchoUpstream } from './upstream.js';

export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123456789';

export interface Stack extends GatewayUnderTest {
  idp: DevIdp;
  upstream: EchoUpstream;
}

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
        ? merge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export type StackConfig = DeepPartial<GatehouseConfig> & Record<string, unknown>;

/** A gateway started by startGateway: its config, its captured logs and how to stop it. */
export interface GatewayUnderTest {
  gw: Gateway;
  url: string;
  cfg: GatehouseConfig;
  /** Every log line the gateway wrote, parsed (level debug and up unless `logging.level` says). */
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** The OpenID provider; client `gatehouse` / `gatehouse-dev-secret` unless `config.provider` says. */
  issuer: string;
  upstream: string;
  config?: StackConfig;
  clock?: Clock;
  /** The port to listen on, when something must know it first (an IdP's redirect URIs); default a free one. */
  port?: number;
  /** 'https': publicUrl says https (as behind a TLS-terminating load balancer) while we listen on http. */
  publicUrlOverride?: 'https';
  /** Another replica behind one load balancer: this publicUrl, whatever port it listens on. */
  publicUrl?: string;
  /** A store to use instead of the configured one (a restart that keeps its sessions, as Redis would). */
  store?: SessionStore;
}

/**
 * The gateway as every suite starts it: config through the real loader, a loopback port that
 * publicUrl names, logs captured, provider discovered before it returns.
 */
export async function startGateway(opts: GatewayOptions): Promise<GatewayUnderTest> {
  const port = opts.port ?? (await freePort());
  const base = {
    listen: '127.0.0.1:0',
    publicUrl: 'http://127.0.0.1:1',
    upstream: opts.upstream,
    provider: { issuer: opts.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
    session: { secret: TEST_SECRET },
    logging: { level: 'debug' },
  };
  // publicUrl must name the port we listen on, so the port is chosen first.
  const object = merge(merge(base, (opts.config ?? {}) as Record<string, unknown>), {
    listen: `127.0.0.1:${port}`,
    publicUrl: opts.publicUrl ?? `${opts.publicUrlOverride ?? 'http'}://127.0.0.1:${port}`,
  });
  // A configuration with routes names its upstreams there (`upstream` and `routes` exclude each other).
  if ('routes' in object) delete (object as Record<string, unknown>).upstream;
  const cfg = loadConfig({ object, env: {} });
  const logs: Array<Record<string, unknown>> = [];
  const sink = jsonLogSink(logs);
  const gw = await createGateway(cfg, {
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.store ? { store: opts.store } : {}),
    logger: createLogger(cfg.logging.level, sink),
  });
  const url = await gw.listen();
  await gw.discovered;
  return { gw, url, cfg, logs, close: () => gw.close() };
}

/** Dev IdP + echo upstream + gateway on loopback ports, all real sockets. */
export async function startStack(
  opts: {
    idp?: DevIdpOptions;
    config?: StackConfig;
    clock?: Clock;
    idpInstance?: DevIdp;
    publicUrlOverride?: 'https';
    /** The IdP frames the gateway's /oauth2/frontchannel-logout at end-session. */
    frontchannel?: boolean;
  } = {},
): Promise<Stack> {
  const port = await freePort();
  const idp =
    opts.idpInstance ??
    (await startTestIdp({
      backchannelLogoutUri: `http://127.0.0.1:${port}/oauth2/backchannel-logout`,
      ...(opts.frontchannel
        ? { frontchannelLogoutUri: `http://127.0.0.1:${port}/oauth2/frontchannel-logout` }
        : {}),
      ...opts.idp,
    }));
  const upstream = await startEchoUpstream();
  const gateway = await startGateway({
    issuer: idp.issuer,
    upstream: upstream.url,
    port,
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.publicUrlOverride ? { publicUrlOverride: opts.publicUrlOverride } : {}),
  });
  return {
    ...gateway,
    idp,
    upstream,
    async close() {
      await gateway.close();
      await upstream.close();
      if (!opts.idpInstance) await idp.stop();
    },
  };
}

/**
 * A dev IdP and a gateway whose publicUrl is `http://auth.gatehouse.test:<port>` (its callback the
 * one registered redirect URI), for route-host tests: every `*.gatehouse.test` name is sent to
 * 127.0.0.1 by the client (test/helpers/hostBrowser.ts, or Chromium's --host-resolver-rules).
 * `config` normally holds `routes`; `upstream` is only the base the routes replace.
 */
export async function startHostsGateway(opts: {
  upstream: string;
  config: Record<string, unknown>;
}): Promise<{ idp: DevIdp; gw: GatewayUnderTest; port: number; close(): Promise<void> }> {
  const port = await freePort();
  const idp = await startTestIdp({ redirectUris: [`http://auth.gatehouse.test:${port}/oauth2/callback`] });
  const gw = await startGateway({
    issuer: idp.issuer,
    upstream: opts.upstream,
    port,
    publicUrl: `http://auth.gatehouse.test:${port}`,
    config: opts.config as StackConfig,
  });
  return {
    idp,
    gw,
    port,
    async close() {
      await gw.close();
      await idp.stop();
    },
  };
}

/**
 * Logs `browser` in through the real redirect chain: gateway → IdP authorize (auto-login, with
 * `login_hint` choosing the user) → gateway callback → back to `path`. Returns every hop.
 */
export async function login(
  stack: Stack,
  browser: TestBrowser,
  opts: { path?: string; user?: string } = {},
): Promise<Reply[]> {
  const user = opts.user;
  return browser.follow(stack.url + (opts.path ?? '/'), {
    rewrite: (u) => {
      if (user && u.startsWith(`${stack.idp.issuer}/authorize`)) {
        const x = new URL(u);
        x.searchParams.set('login_hint', user);
        return x.href;
      }
      return u;
    },
  });
}

export { freePort, TestBrowser };
