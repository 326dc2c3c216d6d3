import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { GatehouseConfig } from '../../src/config/schema.js';
import { type DevIdp, startDevIdp } from '../../src/devidp/index.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import type { Clock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import type { Reply, TestBrowser } from '../helpers/browser.js';
import { track } from '../helpers/children.js';
import { jsonLogSink } from '../helpers/logSink.js';
import { freePort, TEST_SECRET } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';
import { BEARER_CONFIG, SCOPED_RULE } from './bearer.js';

export type Echo = { method: string; url: string; headers: Record<string, string | undefined> };

/** The policy every front-door test runs against. */
export const DOOR_CONFIG = {
  skipAuth: ['/public'],
  authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }, SCOPED_RULE] },
  headers: { passAccessToken: true },
  bearer: BEARER_CONFIG,
  logging: { level: 'debug' },
};

export interface DoorStack {
  idp: DevIdp;
  upstream: EchoUpstream;
  gw: Gateway;
  /** Gatehouse itself (its reverse proxy also serves `upstream`). */
  gwUrl: string;
  gwPort: number;
  cfg: GatehouseConfig;
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * Dev IdP + echo upstream + Gatehouse whose `publicUrl` is the origin of the proxy in front of it
 * (`publicPort`): the browser only ever talks to the proxy, which routes /oauth2/* to Gatehouse.
 */
export async function startDoorStack(
  publicPort: number,
  opts: { clock?: Clock; config?: Record<string, unknown> } = {},
): Promise<DoorStack> {
  const idp = await startDevIdp({ port: 0, quiet: true, autoLogin: 'alice' });
  const upstream = await startEchoUpstream();
  const gwPort = await freePort();
  const cfg = loadConfig({
    object: {
      ...DOOR_CONFIG,
      ...opts.config,
      listen: `127.0.0.1:${gwPort}`,
      publicUrl: `http://127.0.0.1:${publicPort}`,
      upstream: upstream.url,
      provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
      session: { secret: TEST_SECRET },
    },
    env: {},
  });
  const logs: Array<Record<string, unknown>> = [];
  const sink = jsonLogSink(logs);
  const gw = await createGateway(cfg, {
    ...(opts.clock ? { clock: opts.clock } : {}),
    logger: createLogger(cfg.logging.level, sink),
  });
  const gwUrl = await gw.listen();
  await gw.discovered;
  return {
    idp,
    upstream,
    gw,
    gwUrl,
    gwPort,
    cfg,
    logs,
    async close() {
      await gw.close();
      await upstream.close();
      await idp.stop();
    },
  };
}

/** Logs in through `url` (a proxy), choosing the dev IdP user with `login_hint`. Returns every hop. */
export function loginThrough(
  browser: TestBrowser,
  idp: DevIdp,
  url: string,
  user: string,
  max = 10,
): Promise<Reply[]> {
  return browser.follow(url, {
    max,
    rewrite: (u) => {
      if (!u.startsWith(`${idp.issuer}/authorize`)) return u;
      const x = new URL(u);
      x.searchParams.set('login_hint', user);
      return x.href;
    },
  });
}

/** Waits until something accepts TCP connections on `port`: bounded retries, not a fixed sleep. */
export async function waitForPort(
  port: number,
  child: ChildProcess,
  describe: () => string,
  timeoutMs = 15_000,
  cancelled: () => boolean = () => false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    if (cancelled()) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before listening:\n${describe()}`);
    }
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline)
      throw new Error(`not listening on ${port} after ${timeoutMs} ms:\n${describe()}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(200, delay * 2);
  }
}

export interface ProxyProcess {
  url: string;
  port: number;
  /** The configuration file it runs (for failure messages). */
  config: string;
  output(): string;
  stop(): Promise<void>;
}

/** A config block from docs/front-doors.md, so what is documented is what is tested. */
export function documentedBlock(kind: string, docFile = 'front-doors.md'): string {
  const doc = readFileSync(new URL(`../../docs/${docFile}`, import.meta.url), 'utf8');
  const at = doc.indexOf(`<!-- tested: ${kind} `);
  if (at === -1) throw new Error(`docs/${docFile} has no "tested: ${kind}" block`);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(doc.slice(at));
  if (!m) throw new Error(`docs/${docFile}: no code block after the "tested: ${kind}" marker`);
  return m[1]!;
}

/**
 * Puts our ports into a documented config: every `from` must occur, and is replaced only as a
 * whole address (not followed by another digit), in one pass over the original text. Replacing
 * one by one was a bug: a gateway on port 30005 turned "127.0.0.1:30005" into something that
 * the next replacement ("127.0.0.1:3000" → the upstream) rewrote again, and Caddy answered 502.
 */
export function substitute(text: string, replacements: Record<string, string>): string {
  const froms = Object.keys(replacements);
  for (const from of froms) {
    if (!text.includes(from)) throw new Error(`documented config no longer contains "${from}"`);
  }
  const escaped = froms
    .sort((a, b) => b.length - a.length)
    .map((f) => `${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?!\\d)`);
  return text.replace(new RegExp(escaped.join('|'), 'g'), (m) => replacements[m]!);
}

async function spawnProxy(
  name: string,
  dir: string,
  config: string,
  port: number,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<ProxyProcess> {
  let out = '';
  const child = track(spawn(cmd, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let failed = false;
  const spawnFailed = new Promise<never>((_, reject) =>
    child.once('error', (err) => {
      failed = true;
      reject(new Error(`cannot run ${cmd}: ${err.message} (install it: apt-get install ${name})`));
    }),
  );
  const errorLog = () => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const describe = () => `${name} output:\n${out}\n${errorLog()}\nconfig:\n${config}`;
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([waitForPort(port, child, describe, 15_000, () => failed), spawnFailed]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `http://127.0.0.1:${port}`, port, config, output: () => `${out}\n${errorLog()}`, stop };
}

/**
 * nginx with the documented server block, run by us (not the system service): own prefix and
 * temp dirs in a fresh directory, a loopback port, `daemon off` so it is our child.
 */
export async function startNginx(opts: {
  port: number;
  gatehousePort: number;
  upstreamPort: number;
  /** Another server block than docs/front-doors.md's, already on our ports. */
  site?: string;
}): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-nginx-'));
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    mkdirSync(join(dir, 'tmp', d), { recursive: true });
  const site =
    opts.site ??
    substitute(documentedBlock('nginx'), {
      'server 127.0.0.1:4180;': `server 127.0.0.1:${opts.gatehousePort};`,
      'server 127.0.0.1:3000;': `server 127.0.0.1:${opts.upstreamPort};`,
      'listen 80;': `listen 127.0.0.1:${opts.port};`,
    });
  const config = `# generated by test/frontdoors/helpers.ts
${process.getuid?.() === 0 ? 'user root root;' : ''}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log notice;
events { worker_connections 256; }
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
${site}
}
`;
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, config);
  return spawnProxy(
    'nginx',
    dir,
    config,
    opts.port,
    process.env.NGINX_BIN ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx'),
    ['-p', `${dir}/`, '-c', file, '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
    process.env,
  );
}

/** The documented Caddy site block, on our ports. */
export function caddySite(opts: { port: number; gatehousePort: number; upstreamPort: number }): string {
  return substitute(documentedBlock('caddy'), {
    'app.example.com {': `http://127.0.0.1:${opts.port} {\n\tbind 127.0.0.1`,
    '127.0.0.1:4180': `127.0.0.1:${opts.gatehousePort}`,
    '127.0.0.1:3000': `127.0.0.1:${opts.upstreamPort}`,
  });
}

/** Caddy with the documented site block, `admin off`, no automatic HTTPS, state in a temp dir. */
export async function startCaddy(opts: {
  port: number;
  gatehousePort: number;
  upstreamPort: number;
}): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-caddy-'));
  const site = caddySite(opts);
  const config = `# generated by test/frontdoors/helpers.ts
{
	admin off
	auto_https off
	storage file_system ${dir}/data
}

${site}`;
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, config);
  return spawnProxy(
    'caddy',
    dir,
    config,
    opts.port,
    process.env.CADDY_BIN ?? 'caddy',
    ['run', '--config', file, '--adapter', 'caddyfile'],
    { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
  );
}

/** The upstream's echo of a request; otherwise an error with what the proxy (if given) logged. */
export function echoOf(r: Reply, proxy?: ProxyProcess): Echo {
  try {
    return r.json<Echo>();
  } catch {
    const log = proxy ? `\n${proxy.output().slice(-2000)}\nconfig:\n${proxy.config}` : '';
    throw new Error(`not an echo from the upstream (status ${r.status}): ${r.body.slice(0, 300)}${log}`);
  }
}
