import { parse as parseToml } from 'smol-toml';

/** Where an oauth2-proxy option was read from; `env` keeps the variable's name for `env:` references. */
export type OptionSource = { kind: 'file' } | { kind: 'flag' } | { kind: 'env'; name: string };

export interface OptionValue {
  value: string | boolean | number | string[];
  source: OptionSource;
}

/** oauth2-proxy options by their config-file name (`email_domains`), the last source winning. */
export type Oauth2ProxyOptions = Map<string, OptionValue>;

/**
 * Command-line flags whose config-file name is not the flag's name with `_` for `-` (oauth2-proxy
 * names repeatable flags in the singular and their config keys in the plural).
 */
const FLAG_TO_OPTION: Readonly<Record<string, string>> = {
  'email-domain': 'email_domains',
  upstream: 'upstreams',
  'allowed-group': 'allowed_groups',
  'allowed-role': 'allowed_roles',
  'skip-auth-route': 'skip_auth_routes',
  'skip-auth-regex': 'skip_auth_regex',
  'whitelist-domain': 'whitelist_domains',
  'cookie-domain': 'cookie_domains',
  'provider-ca-file': 'provider_ca_files',
  'api-route': 'api_routes',
  'trusted-ip': 'trusted_ips',
  'extra-jwt-issuers': 'extra_jwt_issuers',
  'redis-sentinel-connection-urls': 'redis_sentinel_connection_urls',
  'redis-cluster-connection-urls': 'redis_cluster_connection_urls',
};

/** Options that hold a list (several flags, a TOML array, a comma-separated variable). */
export const LIST_OPTIONS: ReadonlySet<string> = new Set([...Object.values(FLAG_TO_OPTION), 'scope_list']);

export class Oauth2ProxyInputError extends Error {}

/** An oauth2-proxy TOML configuration file (`--config`), as options. */
export function optionsFromToml(text: string, into: Oauth2ProxyOptions = new Map()): Oauth2ProxyOptions {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new Oauth2ProxyInputError(`not valid TOML — ${(err as Error).message.split('\n')[0]}`);
  }
  for (const [key, value] of Object.entries(doc)) {
    const v = plain(value);
    if (v === undefined) {
      throw new Oauth2ProxyInputError(
        `${key}: a table or date — oauth2-proxy's legacy configuration file holds strings, numbers, booleans and lists only (the alpha YAML configuration is not read)`,
      );
    }
    into.set(key, { value: v, source: { kind: 'file' } });
  }
  return into;
}

/** `OAUTH2_PROXY_*` variables (oauth2-proxy's environment configuration), as options. */
export function optionsFromEnv(
  env: NodeJS.ProcessEnv,
  into: Oauth2ProxyOptions = new Map(),
): Oauth2ProxyOptions {
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('OAUTH2_PROXY_') || raw === undefined) continue;
    const key = name.slice('OAUTH2_PROXY_'.length).toLowerCase();
    const value = LIST_OPTIONS.has(key) ? splitList(raw) : scalar(raw);
    into.set(key, { value, source: { kind: 'env', name } });
  }
  return into;
}

/** oauth2-proxy command-line flags (`--email-domain=x`, `--upstream x`, `--pass-access-token`). */
export function optionsFromFlags(
  args: readonly string[],
  into: Oauth2ProxyOptions = new Map(),
): Oauth2ProxyOptions {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const m = /^--?([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new Oauth2ProxyInputError(`${arg}: not an oauth2-proxy flag (expected --name=value)`);
    const flag = m[1]!;
    let raw = m[2];
    if (raw === undefined) {
      const next = args[i + 1];
      // A flag without a value is a boolean switch, unless the next argument is its value.
      if (next !== undefined && !next.startsWith('-')) {
        raw = next;
        i++;
      } else raw = 'true';
    }
    const key = FLAG_TO_OPTION[flag] ?? flag.replaceAll('-', '_');
    if (LIST_OPTIONS.has(key)) {
      const prev = into.get(key);
      const list = prev?.source.kind === 'flag' && Array.isArray(prev.value) ? prev.value : [];
      into.set(key, { value: [...list, ...splitList(raw)], source: { kind: 'flag' } });
    } else into.set(key, { value: scalar(raw), source: { kind: 'flag' } });
  }
  return into;
}

function plain(v: unknown): OptionValue['value'] | undefined {
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  return undefined;
}

function scalar(raw: string): string | boolean {
  return raw === 'true' ? true : raw === 'false' ? false : raw;
}

function splitList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
