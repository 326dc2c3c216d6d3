import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import type { GatehouseConfig } from '../config/schema.js';
import { presetFor } from '../oidc/presets/index.js';
import { type CheckResult, fail } from './check.js';
import { configChecks } from './configChecks.js';
import { gatewayChecks } from './gatewayChecks.js';
import {
  chooseLoginCallback,
  DEFAULT_LOGIN_TIMEOUT_SECONDS,
  DOCUMENTED_LOGIN_CALLBACK,
  LoginUsageError,
  loginChecks,
} from './loginCheck.js';
import { jsonReport, textReport } from './printer.js';
import { providerChecks } from './providerChecks.js';
import { refreshReadiness } from './refreshReadiness.js';
import { storeChecks } from './storeChecks.js';

export const DOCTOR_USAGE = `Usage: gatehouse doctor --config FILE [--json] [--url URL]
                        [--login [--login-callback URL] [--login-timeout SECONDS]]

Checks a configuration, the provider, refresh readiness, the store and (with --url) a running
gateway, one line each: PASS|WARN|FAIL <check>: <finding> — fix: <how>.
Exit status: 0 nothing failed, 1 something failed, 78 the configuration is invalid, 2 bad usage.

  -c, --config FILE   the gateway's configuration (GATEHOUSE_* env vars override keys, as for serve)
      --json          one JSON document {checks: [{status, check, finding, fix}], summary}
      --url URL       the running gateway (e.g. http://127.0.0.1:4180): /readyz and metrics.listen
      --login         a live proof: prints a URL to open in a browser, completes one real login on a
                      temporary loopback callback, then one refresh grant; reports whether a refresh
                      token came back, rotation and the token lifetimes (never a token)
      --login-callback URL
                      the loopback callback to listen on (http://127.0.0.1:PORT/PATH, registered at
                      the provider); default: <publicUrl>/oauth2/callback when publicUrl is http on
                      loopback and its port is free (the gateway is stopped), else
                      ${DOCUMENTED_LOGIN_CALLBACK}
      --login-timeout SECONDS
                      how long to wait for the login (default ${DEFAULT_LOGIN_TIMEOUT_SECONDS})
`;

/** What `--login` was given: the callback to listen on and how long to wait for it. */
export interface LoginRequest {
  callback: URL;
  why: string;
  timeoutSeconds: number;
  print: (line: string) => void;
}

/** Every check group, in order; each one's findings, never an exception. */
export async function runChecks(
  cfg: GatehouseConfig,
  opts: { source: string; url?: string | undefined; login?: LoginRequest | undefined },
): Promise<CheckResult[]> {
  // The preset as the gateway uses it (load.ts resolved it); one call to adapt when presets change.
  const preset = presetFor(cfg.provider);
  const checks: CheckResult[] = [...configChecks(cfg, opts.source)];
  const provider = await guarded('provider.discovery', () => providerChecks(cfg, preset));
  checks.push(...(Array.isArray(provider) ? provider : provider.checks));
  const metadata = Array.isArray(provider) ? undefined : provider.metadata;
  checks.push(...refreshReadiness(cfg, preset, metadata));
  const login = opts.login;
  if (login) checks.push(...(await guarded('login', () => loginChecks(cfg, preset, metadata, login))));
  checks.push(...(await guarded('store', () => storeChecks(cfg))));
  if (opts.url !== undefined) checks.push(...(await guarded('gateway', () => gatewayChecks(cfg, opts.url!))));
  return checks;
}

/** A check group that throws (a bug, not a finding) still reports, as a FAIL of its own. */
async function guarded<T>(check: string, fn: () => Promise<T>): Promise<T | CheckResult[]> {
  try {
    return await fn();
  } catch (err) {
    return [
      fail(check, `the check itself failed: ${(err as Error).message}`, 'report this as a Gatehouse bug'),
    ];
  }
}

/** `gatehouse doctor …`: prints the report and sets the exit status (0, 1, 78; 2 for bad usage). */
export async function runDoctor(argv: string[]): Promise<void> {
  let values: {
    config?: string | undefined;
    json?: boolean | undefined;
    url?: string | undefined;
    login?: boolean | undefined;
    'login-callback'?: string | undefined;
    'login-timeout'?: string | undefined;
    help?: boolean | undefined;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        url: { type: 'string' },
        login: { type: 'boolean' },
        'login-callback': { type: 'string' },
        'login-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`gatehouse doctor: ${(err as Error).message}\n\n${DOCTOR_USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(DOCTOR_USAGE);
    return;
  }
  if (!values.config) {
    process.stderr.write(`gatehouse doctor: --config FILE is required\n\n${DOCTOR_USAGE}`);
    process.exit(2);
  }
  let cfg: GatehouseConfig;
  try {
    cfg = loadConfig({ file: values.config });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`gatehouse: ${err.message}\n`);
    if (values.json) {
      const checks = err.problems.map((p) =>
        fail('config.valid', p, 'fix the key named, then run gatehouse doctor again'),
      );
      process.stdout.write(jsonReport(checks));
    }
    process.exit(78); // EX_CONFIG, as `gatehouse serve`
  }
  let login: LoginRequest | undefined;
  if (values.login) {
    const timeoutText = values['login-timeout'] ?? String(DEFAULT_LOGIN_TIMEOUT_SECONDS);
    const timeoutSeconds = Number(timeoutText);
    if (!/^\d+(\.\d+)?$/.test(timeoutText) || timeoutSeconds <= 0) {
      process.stderr.write(
        `gatehouse doctor: --login-timeout must be a number of seconds > 0, got "${timeoutText}"\n`,
      );
      process.exit(2);
    }
    try {
      const { callback, why } = await chooseLoginCallback(cfg, values['login-callback']);
      // With --json, stdout is the one JSON document: the URL to open goes to stderr.
      const out = values.json ? process.stderr : process.stdout;
      login = { callback, why, timeoutSeconds, print: (line) => out.write(line) };
    } catch (err) {
      if (!(err instanceof LoginUsageError)) throw err;
      process.stderr.write(`gatehouse doctor: ${err.message}\n`);
      process.exit(2);
    }
  } else if (values['login-callback'] !== undefined || values['login-timeout'] !== undefined) {
    process.stderr.write('gatehouse doctor: --login-callback and --login-timeout go with --login\n');
    process.exit(2);
  }
  const checks = await runChecks(cfg, { source: values.config, url: values.url, login });
  process.stdout.write(values.json ? jsonReport(checks) : textReport(checks));
  process.exitCode = checks.some((c) => c.status === 'FAIL') ? 1 : 0;
}
