import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../config/load.js';
import {
  Oauth2ProxyInputError,
  type Oauth2ProxyOptions,
  optionsFromEnv,
  optionsFromFlags,
  optionsFromToml,
} from './oauth2ProxySources.js';
import { type ReportLine, translateOauth2Proxy } from './oauth2ProxyTranslation.js';

export interface MigrationInput {
  /** oauth2-proxy's TOML configuration file (`--config`). */
  file?: string;
  /** Read `OAUTH2_PROXY_*` from this environment. */
  env?: NodeJS.ProcessEnv;
  /** oauth2-proxy command-line flags. */
  flags?: readonly string[];
}

export interface Migration {
  /** gatehouse.yaml: the report as comments on top, then the configuration. */
  yaml: string;
  config: Record<string, unknown>;
  report: ReportLine[];
  /**
   * What the configuration still lacks to start (the loader's messages: key and fix), empty when
   * `gatehouse serve --config` would accept it. `env:` secrets are checked against `env`.
   */
  problems: string[];
}

export { Oauth2ProxyInputError };

/**
 * `gatehouse migrate oauth2-proxy`: reads an oauth2-proxy configuration the way oauth2-proxy does
 * (file, then environment, then flags, the later winning), writes the Gatehouse configuration
 * with a report of every option: mapped, changed in meaning, or unsupported and why.
 */
export function migrateOauth2Proxy(input: MigrationInput): Migration {
  const opts: Oauth2ProxyOptions = new Map();
  if (input.file) {
    let text: string;
    try {
      text = readFileSync(input.file, 'utf8');
    } catch (err) {
      throw new Oauth2ProxyInputError(
        `${input.file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    try {
      optionsFromToml(text, opts);
    } catch (err) {
      throw new Oauth2ProxyInputError(`${input.file}: ${(err as Error).message}`);
    }
  }
  if (input.env) optionsFromEnv(input.env, opts);
  if (input.flags) optionsFromFlags(input.flags, opts);
  if (opts.size === 0) {
    throw new Oauth2ProxyInputError(
      'no oauth2-proxy options found: give its config file, --env (OAUTH2_PROXY_* variables) or its flags after --',
    );
  }
  const { config, report } = translateOauth2Proxy(opts);
  const problems = check(config, input.env ?? {});
  return { yaml: render(config, report, problems), config, report, problems };
}

function check(config: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const { vars, unset } = referencedEnv(config, env);
  const problems = unset.map(
    (name) =>
      `${name}: the configuration reads a secret from this environment variable — set it where Gatehouse runs`,
  );
  try {
    loadConfig({ object: config, env: vars });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  return problems;
}

/**
 * The loader reads GATEHOUSE_* overrides from the environment it is given: only the variables
 * the configuration refers to (`env:NAME`) are passed, so the check is about the file alone. An
 * unset one gets a stand-in (reported separately), so the rest of the file is still checked.
 */
function referencedEnv(
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { vars: NodeJS.ProcessEnv; unset: string[] } {
  const vars: NodeJS.ProcessEnv = {};
  const unset: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string' && v.startsWith('env:')) {
      const name = v.slice(4);
      if (env[name] !== undefined) vars[name] = env[name];
      else {
        vars[name] = 'a stand-in for an unset variable, 48 characters.';
        if (!unset.includes(name)) unset.push(name);
      }
    } else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  walk(config);
  return { vars, unset };
}

const LABEL: Record<ReportLine['status'], string> = {
  mapped: 'mapped     ',
  changed: 'changed    ',
  unsupported: 'unsupported',
};

/** One report line, as printed and as written into the YAML's header comment. */
export function reportLine(l: ReportLine): string {
  return `${LABEL[l.status]} ${l.option}${l.key ? ` → ${l.key}` : ''}: ${l.note}`;
}

function render(config: Record<string, unknown>, report: ReportLine[], problems: string[]): string {
  const head = [
    '# Written by `gatehouse migrate oauth2-proxy` from an oauth2-proxy configuration.',
    '# Every oauth2-proxy option and what became of it:',
    ...report.map((l) => `#   ${reportLine(l)}`),
    ...(problems.length
      ? [
          '#',
          '# Still needed before `gatehouse serve --config` accepts this file:',
          ...problems.map((p) => `#   ${p}`),
        ]
      : []),
    '',
  ];
  return `${head.join('\n')}${stringify(config)}`;
}
