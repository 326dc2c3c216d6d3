import cluster from 'node:cluster';
import { readFileSync, watchFile } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runPrimary } from './cluster/primary.js';
import { answerMetricsRequests, joinPrimary, workerSlot } from './cluster/worker.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { GatehouseConfig } from './config/schema.js';
import { workersStoreProblem } from './config/workers.js';
import { createGateway, type Gateway } from './gateway.js';
import { usableCpus } from './util/cpuQuota.js';
import { createLogger } from './util/log.js';

const USAGE = `Usage: gatehouse <command> [options]

Commands:
  serve --config FILE     run the gateway (YAML config; GATEHOUSE_* env vars override keys);
                          SIGHUP re-reads FILE, --watch re-reads it when it changes;
                          server.workers: N | auto runs N processes on the listen socket
  doctor --config FILE    check a configuration, its provider, refresh readiness and store (gatehouse doctor --help)
  demo                    dev IdP + demo app + gateway on loopback (what \`npm start\` runs)
  dev-idp [options]       run the development OpenID provider (gatehouse dev-idp --help)
  migrate oauth2-proxy    turn an oauth2-proxy configuration into gatehouse.yaml (--help)
  version                 print the version
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function serve(argv: string[]): Promise<void> {
  let values: { config?: string | undefined; watch?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, watch: { type: 'boolean' } },
    }));
  } catch (err) {
    process.stderr.write(`gatehouse serve: ${(err as Error).message}\n`);
    process.exit(2);
  }
  let cfg: ReturnType<typeof loadConfig>;
  try {
    cfg = loadConfig(values.config ? { file: values.config } : {});
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gatehouse: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const worker = workerSlot();
  if (worker === undefined) {
    const workers = workerCount(cfg);
    if (workers > 1) {
      // The primary: forks the workers (each a whole gateway, running this module) and serves no request.
      await runPrimary({
        workers,
        entry: fileURLToPath(import.meta.url),
        args: ['serve', ...argv],
        metricsListen: cfg.metrics.listen,
        shutdownTimeoutSeconds: cfg.shutdownTimeoutSeconds,
        logger: createLogger(cfg.logging.level).child({ worker: 0 }),
        onListening: (url) => process.stderr.write(`${listeningLine(cfg, url)} — ${workers} workers\n`),
      });
      return;
    }
  } else answerMetricsRequests();
  let gw: Awaited<ReturnType<typeof createGateway>>;
  try {
    gw = await createGateway(cfg, worker === undefined ? {} : { worker });
  } catch (err) {
    // Start-up can find a configuration problem too: a client registration the provider refuses.
    if (err instanceof ConfigError) {
      process.stderr.write(`gatehouse: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const url = await gw.listen();
  // A worker's primary prints the one line for all of them.
  if (worker === undefined) process.stderr.write(`${listeningLine(cfg, url)}\n`);
  if (values.config) watchForReload(gw, values.config, values.watch === true);
  else {
    // Without a file there is nothing to re-read; SIGHUP must not kill the process (Node's default).
    process.on('SIGHUP', () =>
      process.stderr.write(
        'gatehouse: SIGHUP: no --config file to re-read (environment only); restart to change the configuration\n',
      ),
    );
  }
  // The first SIGTERM/SIGINT drains; a second one (of either kind) exits at once.
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(
      `gatehouse: ${signal}: draining (requests and refreshes in flight, at most ${cfg.shutdownTimeoutSeconds} s); send it again to exit at once\n`,
    );
    void gw.close().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (worker !== undefined) {
    // The primary's shutdown is the first signal's drain; it never counts as the second signal.
    joinPrimary(gw.metrics.registry, url, () => {
      if (stopping) return;
      stopping = true;
      void gw.close().then(() => process.exit(0));
    });
  }
}

function listeningLine(cfg: GatehouseConfig, url: string): string {
  const to = cfg.routes
    ? `${cfg.routes.length} route${cfg.routes.length === 1 ? '' : 's'}`
    : `upstream ${cfg.upstream ?? 'none'}`;
  return `gatehouse listening on ${url} (public ${cfg.publicUrl}, ${to})`;
}

/**
 * `server.workers` as a number of processes (`auto`: the CPUs this container may use), checked
 * against the store (exit 78): `auto` can only be checked here, where it is resolved.
 */
function workerCount(cfg: GatehouseConfig): number {
  const setting = cfg.server.workers;
  const workers = setting === 'auto' ? usableCpus() : setting;
  const problem =
    workers > 1 && cluster.isWorker
      ? `server.workers: ${setting} cannot run inside another supervisor's cluster worker (pm2 cluster mode): set server.workers: 1 and let the supervisor run the instances, or run gatehouse serve directly`
      : workersStoreProblem(workers, setting, cfg.session.store);
  if (problem) {
    process.stderr.write(`gatehouse: ${new ConfigError([problem]).message}\n`);
    process.exit(78); // EX_CONFIG
  }
  return workers;
}

/**
 * SIGHUP (and, with --watch, a changed file) re-reads the configuration. A bad one is refused
 * with its reasons and the running one stays; a good one applies what can change while running
 * (config/reload.ts) and names what needs a restart. The file is polled (1 s), which also sees a
 * Kubernetes ConfigMap's symlink swap that file-system events miss.
 */
function watchForReload(gw: Gateway, file: string, watch: boolean): void {
  const reload = (why: string) => {
    let next: ReturnType<typeof loadConfig>;
    try {
      next = loadConfig({ file });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(
        `gatehouse: ${why}: reload refused, the running configuration stays — ${err.message}\n`,
      );
      return;
    }
    const plan = gw.reload(next);
    process.stderr.write(
      `gatehouse: ${why}: configuration reloaded (applied: ${plan.applied.join(', ') || 'none'}${plan.needsRestart.length ? `; needs a restart: ${plan.needsRestart.join(', ')}` : ''})\n`,
    );
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (watch) {
    watchFile(file, { interval: 1000 }, (cur, prev) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size) reload(`${file} changed`);
    });
  }
}

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve':
      return serve(rest);
    case 'doctor': {
      const { runDoctor } = await import('./doctor/runDoctor.js');
      return runDoctor(rest);
    }
    case 'demo': {
      const { runDemo } = await import('./demo/runDemo.js');
      return runDemo(rest);
    }
    case 'dev-idp': {
      const { runDevIdpCli } = await import('./devidp/cli.js');
      return runDevIdpCli(rest);
    }
    case 'migrate': {
      const { runMigrateCli } = await import('./migrate/cli.js');
      return runMigrateCli(rest);
    }
    case 'version':
    case '--version':
      process.stdout.write(`${version()}\n`);
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`gatehouse: unknown command "${cmd}"\n\n${USAGE}`);
      process.exit(2);
  }
}

// A worker of `server.workers` runs this module as its entry (src/cluster/primary.ts forks it).
if (workerSlot() !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  void main(process.argv.slice(2));
}
