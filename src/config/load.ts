import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { assertionKeyProblems } from '../assertion/keyFile.js';
import { compileHeaderTemplates, HeaderTemplateError } from '../identity/headerTemplates.js';
import { bearerConfigProblems } from '../oidc/bearerSettings.js';
import { insecureIssuerProblem } from '../oidc/insecureTransport.js';
import { presetFor } from '../oidc/presets/index.js';
import type { ProviderPreset } from '../oidc/presets/preset.js';
import { caBundleProblems } from '../oidc/providerFetch.js';
import { withPresetDefaults } from '../oidc/settings.js';
import { routeProblems } from './routeChecks.js';
import { type ConfigAsWritten, configSchema, type GatehouseConfig, SECRET_PATHS } from './schema.js';
import { workersStoreProblem } from './workers.js';

/** A configuration problem: `problems` lists one line per key, each naming the key and the fix. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Leaf = 'string' | 'number' | 'boolean' | 'array' | 'json';
type AnySchema = z.core.$ZodType;

/** Unwraps default/optional/... wrappers; `optional` tells whether any wrapper makes the key optional. */
function unwrap(s: AnySchema): AnySchema {
  return unwrapWithFlag(s).schema;
}

function unwrapWithFlag(s: AnySchema): { schema: AnySchema; optional: boolean } {
  let cur = s;
  let optional = false;
  for (;;) {
    const def = cur._zod.def as { type: string; innerType?: AnySchema; in?: AnySchema };
    if (['default', 'optional', 'prefault', 'nullable', 'readonly'].includes(def.type) && def.innerType) {
      if (def.type !== 'readonly' && def.type !== 'nullable') optional = true;
      cur = def.innerType;
    } else if (def.type === 'pipe' && def.in) {
      cur = def.in;
    } else return { schema: cur, optional };
  }
}

/** Every leaf key of the schema as a dotted path, how an env string is read into it, and whether it is required. */
function leafPaths(schema: AnySchema, prefix = '', parentOptional = false): Array<[string, Leaf, boolean]> {
  const { schema: s, optional } = unwrapWithFlag(schema);
  const required = !optional && !parentOptional;
  const def = s._zod.def as { type: string; shape?: Record<string, AnySchema>; element?: AnySchema };
  if (def.type === 'object' && def.shape) {
    return Object.entries(def.shape).flatMap(([k, v]) =>
      leafPaths(v, prefix ? `${prefix}.${k}` : k, !required && prefix !== ''),
    );
  }
  if (def.type === 'number') return [[prefix, 'number', required]];
  if (def.type === 'boolean') return [[prefix, 'boolean', required]];
  if (def.type === 'array') {
    const el = def.element ? unwrap(def.element)._zod.def.type : 'string';
    return [[prefix, el === 'string' ? 'array' : 'json', required]];
  }
  if (def.type === 'record') return [[prefix, 'json', required]];
  return [[prefix, 'string', required]];
}

const LEAVES = leafPaths(configSchema as unknown as AnySchema);

/** `provider.clientSecret` → `GATEHOUSE_PROVIDER_CLIENT_SECRET` */
export function envNameFor(path: string): string {
  return `GATEHOUSE_${path
    .split('.')
    .map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('_')}`;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const p of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function readEnvValue(name: string, raw: string, kind: Leaf, problems: string[]): unknown {
  switch (kind) {
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) problems.push(`${name}: "${raw}" is not a number`);
      return n;
    }
    case 'boolean':
      if (/^(true|1|yes)$/i.test(raw)) return true;
      if (/^(false|0|no)$/i.test(raw)) return false;
      problems.push(`${name}: "${raw}" is not a boolean (use true or false)`);
      return raw;
    case 'array':
      if (raw.trim().startsWith('[')) return readEnvValue(name, raw, 'json', problems);
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'json':
      try {
        return JSON.parse(raw);
      } catch {
        problems.push(`${name}: not valid JSON`);
        return undefined;
      }
    default:
      return raw;
  }
}

/** Resolves `env:NAME` and `file:/path` references so secrets never have to live in the YAML. */
function resolveSecret(path: string, value: unknown, env: NodeJS.ProcessEnv, problems: string[]): unknown {
  if (typeof value !== 'string') return value;
  if (value.startsWith('env:')) {
    const name = value.slice(4);
    const v = env[name];
    if (v === undefined || v === '') {
      problems.push(`${path}: refers to environment variable ${name}, which is not set — export ${name}`);
      return undefined;
    }
    return v;
  }
  if (value.startsWith('file:')) {
    const file = value.slice(5);
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      problems.push(
        `${path}: cannot read secret file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
      return undefined;
    }
  }
  return value;
}

export interface LoadOptions {
  file?: string;
  /** Already-parsed configuration object; merged under the env overrides like a file would be. */
  object?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

/** Reads YAML (optional) + GATEHOUSE_* overrides + secret references, then validates. */
export function loadConfig(opts: LoadOptions = {}): GatehouseConfig {
  const env = opts.env ?? process.env;
  const problems: string[] = [];
  let raw: Record<string, unknown> = structuredClone(opts.object ?? {});
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError([
        `config file ${opts.file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}) — check the path given to --config`,
      ]);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new ConfigError([
        `config file ${opts.file}: not valid YAML — ${(err as Error).message.split('\n')[0]}`,
      ]);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new ConfigError([`config file ${opts.file}: must be a YAML mapping of keys to values`]);
      }
      raw = { ...raw, ...(parsed as Record<string, unknown>) };
    }
  }
  for (const [path, kind] of LEAVES) {
    const name = envNameFor(path);
    const v = env[name];
    if (v !== undefined) setPath(raw, path, readEnvValue(name, v, kind, problems));
  }
  for (const path of SECRET_PATHS) {
    const v = getPath(raw, path);
    if (v !== undefined) setPath(raw, path, resolveSecret(path, v, env, problems));
  }
  // The secrets being rotated out live where `session.secret` did (a file, a variable): each
  // entry may be a reference too.
  const previous = getPath(raw, 'session.previousSecrets');
  if (Array.isArray(previous)) {
    setPath(
      raw,
      'session.previousSecrets',
      previous.map((v, i) => resolveSecret(`session.previousSecrets[${i}]`, v, env, problems)),
    );
  }
  if (getPath(raw, 'metrics.enabled') !== undefined || env.GATEHOUSE_METRICS_ENABLED !== undefined) {
    problems.push(
      'metrics.enabled: removed — metrics are no longer served on the public port; set metrics.listen to an address of their own (e.g. 0.0.0.0:9464, env GATEHOUSE_METRICS_LISTEN) to turn them on, and remove metrics.enabled (GATEHOUSE_METRICS_ENABLED); without metrics.listen metrics are off',
    );
  }
  if (problems.length) throw new ConfigError(problems);
  // What the loader itself adds (why the preset is in force) is not configuration: a loaded
  // configuration given back to loadConfig (tests, embedding code) loads the same way.
  const writtenProvider = raw.provider;
  if (writtenProvider && typeof writtenProvider === 'object') {
    delete (writtenProvider as Record<string, unknown>).presetChosenBecause;
  }

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const path = issue.path.join('.');
        const leaf = LEAVES.find(([p]) => p === path);
        const hint = leaf ? ` (config key ${path}, or env ${envNameFor(path)})` : '';
        if (issue.code === 'unrecognized_keys') {
          const keys = (issue as { keys: string[] }).keys.join(', ');
          return `${path || '(top level)'}: unknown key ${keys} — check the spelling against docs/configuration.md`;
        }
        const missing = issue.code === 'invalid_type' && getPath(raw, path) === undefined;
        if (missing && !leaf) {
          // A whole section is absent: name the keys (and env vars) that must be set in it.
          const needed = LEAVES.filter(([p, , req]) => req && p.startsWith(`${path}.`)).map(([p]) => p);
          if (needed.length) {
            return `${path}: is required — set ${needed.map((p) => `${p} (env ${envNameFor(p)})`).join(', ')}`;
          }
        }
        return `${path || '(top level)'}: ${missing ? 'is required' : issue.message}${hint}`;
      }),
    );
  }
  const written = result.data;
  // The one place `provider.preset: auto` is resolved: everything after names a preset.
  const provider = withPresetDefaults(written.provider);
  const preset = presetFor(provider);
  checkCrossFields(written, preset);
  const cfg: GatehouseConfig = { ...written, provider };
  cfg.authorization.matchUsersBy ??= [...preset.matchUsersBy];
  if (preset.checksHostedDomain) cfg.authorization.requireHostedDomain = true;
  return cfg;
}

function checkCrossFields(cfg: ConfigAsWritten, preset: ProviderPreset): void {
  const problems: string[] = [];
  // What this provider cannot work with (its preset says: presets/*.ts).
  problems.push(
    ...preset.configProblems({ provider: cfg.provider, matchUsersBy: cfg.authorization.matchUsersBy }),
  );
  if (cfg.authorization.matchUsersBy?.length === 0) {
    problems.push(
      'authorization.matchUsersBy: must name at least one of sub, email, preferred_username, login',
    );
  }
  const insecure = insecureIssuerProblem(cfg.provider.issuer, cfg.provider.allowInsecureIssuer);
  if (insecure) problems.push(insecure);
  problems.push(...caBundleProblems(cfg.provider.caFile));
  problems.push(...bearerConfigProblems(cfg.bearer, cfg.provider.issuer));
  problems.push(...assertionKeyProblems(cfg.headers));
  const lease = cfg.refresh.lockLeaseSeconds;
  if (lease !== undefined && lease <= cfg.provider.timeoutSeconds) {
    problems.push(
      `refresh.lockLeaseSeconds: must be longer than provider.timeoutSeconds (${cfg.provider.timeoutSeconds}); a lease shorter than a slow grant lets two replicas spend one refresh token`,
    );
  }
  const { headersTimeoutSeconds: headers, requestTimeoutSeconds: request } = cfg.server;
  if (request > 0 && headers > request) {
    problems.push(
      `server.headersTimeoutSeconds: must not exceed server.requestTimeoutSeconds (${request}): the request timeout covers the head too — raise requestTimeoutSeconds or lower headersTimeoutSeconds`,
    );
  }
  // `auto` is resolved (and checked the same way) where the processes start: src/cli.ts.
  const { workers } = cfg.server;
  if (workers !== 'auto') {
    const problem = workersStoreProblem(workers, workers, cfg.session.store);
    if (problem) problems.push(problem);
  }
  if (cfg.metrics.listen !== undefined && cfg.metrics.listen === cfg.listen && !cfg.listen.endsWith(':0')) {
    problems.push(
      `metrics.listen: must differ from listen (${cfg.listen}): metrics have an address of their own, never the public port (e.g. 0.0.0.0:9464)`,
    );
  }
  problems.push(...headerTemplateProblems(cfg.headers, cfg.routes));
  const pub = new URL(cfg.publicUrl);
  if (pub.pathname !== '/' || pub.search || pub.hash) {
    problems.push('publicUrl: must be an origin without a path (e.g. https://auth.example.com)');
  }
  problems.push(...routingProblems(cfg));
  if (problems.length) throw new ConfigError(problems);
}

/** `routes` with `upstream`, routes that cannot match, a cookie domain the callback is outside of. */
function routingProblems(cfg: ConfigAsWritten): string[] {
  const problems: string[] = [];
  if (cfg.routes !== undefined) {
    if (cfg.upstream !== undefined) {
      problems.push(
        'upstream: cannot be used together with routes — move it into a route (routes: [{ upstream: ... }]); a request no route matches gets 404, never a default upstream',
      );
    }
    if (cfg.routes.length === 0)
      problems.push('routes: is empty — add a route, or remove routes and set upstream');
    problems.push(...routeProblems(cfg.routes, cfg.session.cookieDomain));
  }
  const domain = cfg.session.cookieDomain;
  if (domain) {
    const host = new URL(cfg.publicUrl).hostname.toLowerCase();
    if (!host.endsWith(domain)) {
      problems.push(
        `session.cookieDomain: ${domain} does not cover publicUrl's host ${host} — the callback on ${host} must see the cookies; use a domain ${host} is under, or remove cookieDomain`,
      );
    }
  }
  return problems;
}

/** `headers.templates` parsed (as the engine will parse them), each problem naming its key. */
function headerTemplateProblems(h: ConfigAsWritten['headers'], routes: ConfigAsWritten['routes']): string[] {
  const problems: string[] = [];
  try {
    compileHeaderTemplates(h.templates, 'headers.templates', h.maxTemplateValueBytes);
  } catch (err) {
    if (!(err instanceof HeaderTemplateError)) throw err;
    problems.push(...err.problems);
  }
  (routes ?? []).forEach((r, i) => {
    if (!r.headers.templates) return;
    try {
      compileHeaderTemplates(r.headers.templates, `routes[${i}].headers.templates`, h.maxTemplateValueBytes);
    } catch (err) {
      if (!(err instanceof HeaderTemplateError)) throw err;
      problems.push(...err.problems);
    }
    const auth = Object.keys(r.headers.templates).find((n) => n.toLowerCase() === 'authorization');
    if (auth && (r.headers.passAuthorizationHeader ?? h.passAuthorizationHeader)) {
      problems.push(
        `routes[${i}].headers.templates.${auth}: passAuthorizationHeader sets Authorization on this route too — fix: keep one`,
      );
    }
  });
  const auth = Object.keys(h.templates).find((n) => n.toLowerCase() === 'authorization');
  if (auth && h.passAuthorizationHeader) {
    problems.push(
      `headers.templates.${auth}: headers.passAuthorizationHeader sets Authorization too — fix: keep one (remove the template, or set passAuthorizationHeader: false)`,
    );
  }
  return problems;
}
