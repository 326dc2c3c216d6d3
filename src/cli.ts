import { readFileSync, watchFile } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load.js';
import { createGateway, type Gateway } from './gateway.js';

const USAGE = `Usage: gatehouse <command> [options]

Commands:
  serve --config FILE     run the gateway (YAML config; GATEHOUSE_* env vars override keys);
                          SIGHUP re-reads FILE, --watch re-reads it when it changes
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
  let gw: Awaited<ReturnType<typeof createGateway>>;
  try {
    gw = await createGateway(cfg);
  } catch (err) {
    // Start-up can find a configuration problem too: a client registration the provider refuses.
    if (err instanceof ConfigError) {
      process.stderr.write(`gatehouse: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const url = await gw.listen();
  process.stderr.write(
    `gatehouse listening on ${url} (public ${cfg.publicUrl}, upstream ${cfg.upstream ?? 'none'})\n`,
  );
  if (values.config) watchForReload(gw, values.config, values.watch === true);
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
