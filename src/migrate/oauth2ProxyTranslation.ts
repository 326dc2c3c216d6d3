import { PRESET_NAMES } from '../oidc/presets/index.js';
import type { Oauth2ProxyOptions, OptionValue } from './oauth2ProxySources.js';

/**
 * One line of the migration report: `mapped` (same meaning under the Gatehouse key), `changed`
 * (carried over or dropped because Gatehouse does it differently — the note says how), or
 * `unsupported` (no Gatehouse equivalent; the note says why and what to do instead).
 */
export interface ReportLine {
  option: string;
  status: 'mapped' | 'changed' | 'unsupported';
  key?: string;
  note: string;
}

export interface Translation {
  /** The Gatehouse configuration object (YAML-ready; secrets as given or as `env:` references). */
  config: Record<string, unknown>;
  report: ReportLine[];
}

type Ctx = {
  set(path: string, value: unknown): void;
  get(path: string): unknown;
  opts: Oauth2ProxyOptions;
};
type Handler = (v: OptionValue, ctx: Ctx) => Omit<ReportLine, 'option'>;

/** oauth2-proxy `provider` → Gatehouse preset (the presets this build has; others fall back to generic/auto). */
const PROVIDER_PRESETS: Readonly<Record<string, string>> = {
  oidc: 'auto',
  google: 'google',
  github: 'github',
  gitlab: 'gitlab',
  'keycloak-oidc': 'keycloak',
  'entra-id': 'entra',
  azure: 'entra',
  adfs: 'generic',
};
/** Issuers oauth2-proxy knows by itself for providers that need no `oidc_issuer_url`. */
const DEFAULT_ISSUERS: Readonly<Record<string, string>> = {
  google: 'https://accounts.google.com',
  github: 'https://github.com',
  gitlab: 'https://gitlab.com',
};

const asString = (v: OptionValue): string => (Array.isArray(v.value) ? v.value.join(',') : String(v.value));
const asList = (v: OptionValue): string[] =>
  Array.isArray(v.value)
    ? v.value
    : String(v.value)
        .split(/[,\s]+/)
        .filter(Boolean);
const asBool = (v: OptionValue): boolean => v.value === true || v.value === 'true';

/** A secret as given in the file, or — read from the environment — as a reference to the same variable. */
function secret(v: OptionValue): string {
  return v.source.kind === 'env' ? `env:${v.source.name}` : asString(v);
}

/** Go durations as oauth2-proxy writes them (`168h0m0s`, `30m`, `90s`) → seconds. */
export function goDurationSeconds(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    total += m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : m[2] === 's' ? n : n / 1000;
    consumed += m[0].length;
  }
  return consumed === text.length && consumed > 0 ? Math.round(total) : undefined;
}

/** `^/public` or `^/public/` (a literal prefix regex) → `/public`; anything else is no prefix. */
function literalPrefix(regex: string): string | undefined {
  const m = /^\^(\/[A-Za-z0-9._~/-]*?)\/?(?:\.\*)?$/.exec(regex);
  return m ? m[1] || '/' : undefined;
}

const mapped = (key: string, note = 'same meaning'): Omit<ReportLine, 'option'> => ({
  status: 'mapped',
  key,
  note,
});
const changed = (note: string, key?: string): Omit<ReportLine, 'option'> =>
  key ? { status: 'changed', key, note } : { status: 'changed', note };
/** The option's value, read by `read`, under `key`: same meaning. */
const to =
  (key: string, read: (v: OptionValue) => unknown, note?: string): Handler =>
  (v, c) => {
    c.set(key, read(v));
    return mapped(key, note);
  };
const unsupported = (note: string): Omit<ReportLine, 'option'> => ({ status: 'unsupported', note });

/** Every option Gatehouse knows, with what it becomes. Options not listed are reported as unknown. */
const HANDLERS: Readonly<Record<string, Handler>> = {
  config: () => changed('the file this migration read'),
  provider: (v, c) => {
    const name = asString(v);
    const wanted = PROVIDER_PRESETS[name];
    const preset = wanted && (PRESET_NAMES as readonly string[]).includes(wanted) ? wanted : undefined;
    if (preset && preset !== 'auto') c.set('provider.preset', preset);
    if (!c.get('provider.issuer') && DEFAULT_ISSUERS[name]) c.set('provider.issuer', DEFAULT_ISSUERS[name]);
    if (preset) return mapped('provider.preset', `provider ${name} → preset ${preset}`);
    return changed(
      `no preset for oauth2-proxy's ${name} provider: Gatehouse talks OpenID Connect to it as a generic provider (set provider.issuer)`,
      'provider.preset',
    );
  },
  oidc_issuer_url: to('provider.issuer', (v) => asString(v)),
  client_id: to('provider.clientId', (v) => asString(v)),
  client_secret: to('provider.clientSecret', (v) => secret(v)),
  client_secret_file: to('provider.clientSecret', (v) => `file:${asString(v)}`, 'as a file: reference'),
  redirect_url: (v, c) => {
    let u: URL;
    try {
      u = new URL(asString(v));
    } catch {
      return unsupported('not an absolute URL; set publicUrl to the address users open');
    }
    c.set('publicUrl', u.origin);
    return u.pathname === '/oauth2/callback'
      ? mapped('publicUrl', 'its origin; the redirect URI stays <publicUrl>/oauth2/callback')
      : changed(
          `Gatehouse's redirect URI is always <publicUrl>/oauth2/callback: register ${u.origin}/oauth2/callback at the provider (was ${u.pathname})`,
          'publicUrl',
        );
  },
  cookie_secret: (v, c) => {
    const s = secret(v);
    if (v.source.kind !== 'env' && s.length < 32) {
      c.set('session.secret', 'env:GATEHOUSE_SESSION_SECRET');
      return changed(
        'shorter than the 32 characters Gatehouse requires: session.secret now reads GATEHOUSE_SESSION_SECRET — set it (openssl rand -base64 48)',
        'session.secret',
      );
    }
    c.set('session.secret', s);
    return mapped(
      'session.secret',
      'existing oauth2-proxy cookies are not readable by Gatehouse: users sign in once',
    );
  },
  cookie_name: (v, c) => {
    const name = asString(v);
    if (!/^[A-Za-z0-9_-]+$/.test(name)) return unsupported('letters, digits, _ and - only');
    c.set('session.cookieName', name);
    return mapped('session.cookieName', 'on https it is sent as __Host-<name>');
  },
  cookie_expire: (v, c) => {
    const s = goDurationSeconds(asString(v));
    if (s === undefined || s <= 0) return unsupported(`not a duration: ${asString(v)}`);
    c.set('session.maxAgeSeconds', s);
    return mapped('session.maxAgeSeconds', `${s} s`);
  },
  cookie_refresh: () =>
    changed(
      'Gatehouse refreshes tokens itself before they expire (one grant per session across replicas); no setting needed — see refresh.graceSeconds',
    ),
  cookie_secure: () => changed('derived from publicUrl: Secure (and the __Host- prefix) on https'),
  cookie_httponly: () => changed('always HttpOnly'),
  cookie_samesite: () => changed('always SameSite=Lax (the login flow needs the top-level redirect)'),
  cookie_path: () => changed('always Path=/ (the __Host- prefix requires it)'),
  cookie_domains: () =>
    unsupported('the session cookie is host-only; SSO across several hosts is planned (issue "routes")'),
  email_domains: (v, c) => {
    const list = asList(v);
    if (list.includes('*')) return changed('"*" (any domain) is Gatehouse\'s default: nothing to set');
    c.set('authorization.allowedEmailDomains', list);
    return mapped('authorization.allowedEmailDomains', 'only verified addresses count');
  },
  allowed_groups: to('authorization.allowedGroups', (v) => asList(v)),
  allowed_roles: to('authorization.allowedRoles', (v) => asList(v)),
  upstreams: (v, c) => {
    const list = asList(v);
    const [first] = list;
    if (list.length !== 1 || !first || !/^https?:\/\//.test(first)) {
      return unsupported(
        'Gatehouse proxies to one http(s) upstream (several apps by host and path are planned, issue "routes"); file:// and static:// upstreams are not served — use a web server',
      );
    }
    const u = new URL(first);
    c.set('upstream', first);
    return u.pathname === '/'
      ? mapped('upstream')
      : changed('the path is kept as a prefix of every request', 'upstream');
  },
  http_address: (v, c) => {
    const addr = asString(v).replace(/^https?:\/\//, '');
    const m = /^(.*):(\d+)$/.exec(addr);
    if (!m) return unsupported(`not HOST:PORT: ${asString(v)}`);
    c.set('listen', `${m[1] || '0.0.0.0'}:${m[2]}`);
    return mapped('listen');
  },
  https_address: () => unsupported('terminate TLS in front of Gatehouse (a load balancer, nginx, Caddy)'),
  tls_cert_file: () => unsupported('terminate TLS in front of Gatehouse'),
  tls_key_file: () => unsupported('terminate TLS in front of Gatehouse'),
  skip_auth_routes: (v, c) => skipRoutes(asList(v), c),
  skip_auth_regex: (v, c) => skipRoutes(asList(v), c),
  skip_auth_preflight: () =>
    unsupported(
      'CORS preflights are authenticated like any request; list their paths in skipAuth if they must pass',
    ),
  skip_provider_button: () => changed('always: /oauth2/sign_in goes straight to the provider'),
  pass_access_token: to('headers.passAccessToken', (v) => asBool(v)),
  pass_authorization_header: to('headers.passAuthorizationHeader', (v) => asBool(v)),
  set_authorization_header: (v, c) => {
    c.set('headers.passAuthorizationHeader', asBool(v));
    return changed(
      'Authorization: Bearer <access token> to the upstream (an ID token is never sent)',
      'headers.passAuthorizationHeader',
    );
  },
  set_xauthrequest: () =>
    changed('always: forward-auth answers carry X-Auth-Request-* next to X-Forwarded-*'),
  pass_user_headers: () => changed('always: X-Forwarded-User, -Email, -Preferred-Username, -Groups'),
  pass_basic_auth: () =>
    unsupported('Gatehouse never invents Basic credentials; the upstream reads X-Forwarded-User'),
  prefer_email_to_user: () =>
    changed(
      'X-Forwarded-User is preferred_username, else email, else sub; choose with provider.usernameClaim',
    ),
  scope: to('provider.scopes', (v) => asString(v).split(/\s+/).filter(Boolean)),
  oidc_groups_claim: to('provider.groupsClaim', (v) => asString(v)),
  oidc_email_claim: to('provider.emailClaim', (v) => asString(v)),
  user_id_claim: to('provider.usernameClaim', (v) => asString(v)),
  oidc_audience_claims: () => unsupported('the ID token audience is the client id (OIDC Core)'),
  insecure_oidc_allow_unverified_email: to('authorization.allowUnverifiedEmail', (v) => asBool(v)),
  insecure_oidc_skip_issuer_verification: () => unsupported('the issuer is always verified'),
  insecure_oidc_skip_nonce: () => unsupported('the nonce is always checked'),
  skip_oidc_discovery: () => unsupported('Gatehouse reads the provider from its discovery document'),
  login_url: () => unsupported('from discovery'),
  redeem_url: () => unsupported('from discovery'),
  oidc_jwks_url: () => unsupported('from discovery'),
  profile_url: () => unsupported('from discovery (userinfo_endpoint)'),
  validate_url: () => unsupported('from discovery'),
  code_challenge_method: () => changed('always S256 (PKCE)'),
  approval_prompt: (v, c) => {
    const p = asString(v);
    if (p === 'force')
      return changed('prompt=consent is sent only where needed for a refresh token (the preset decides)');
    c.set('provider.authorizationParams.prompt', p);
    return mapped('provider.authorizationParams.prompt');
  },
  prompt: to('provider.authorizationParams.prompt', (v) => asString(v)),
  session_store_type: (v, c) => {
    if (asString(v) === 'redis') {
      c.set('session.store', 'redis');
      return mapped('session.store');
    }
    return changed(
      'sessions are always server-side (memory store); the browser holds one small opaque cookie',
    );
  },
  redis_connection_url: to('session.redisUrl', (v) => secret(v)),
  redis_password: () => unsupported('put the password in session.redisUrl (redis://:PASSWORD@host:6379)'),
  redis_use_sentinel: () => changed('sentinel mode follows from session.redisSentinels'),
  redis_sentinel_master_name: to('session.redisSentinelName', (v) => asString(v)),
  redis_sentinel_connection_urls: (v, c) => redisNodes('session.redisSentinels', asList(v), c),
  redis_use_cluster: () => changed('cluster mode follows from session.redisClusterNodes'),
  redis_cluster_connection_urls: (v, c) => redisNodes('session.redisClusterNodes', asList(v), c),
  reverse_proxy: () =>
    changed(
      'list the proxies in server.trustedProxies (CIDRs): X-Forwarded-For is believed only from them; forward-auth reads X-Forwarded-* on /oauth2/auth always',
    ),
  real_client_ip_header: () => changed('X-Forwarded-For from server.trustedProxies'),
  trusted_ips: () =>
    unsupported('no IP allow-list bypass: every request is authenticated (use skipAuth paths)'),
  whitelist_domains: (v, c) => {
    const hosts = asList(v).map((h) => h.replace(/:\d+$/, '').replace(/^\*\./, '.'));
    c.set('login.allowedRedirectHosts', hosts);
    return mapped('login.allowedRedirectHosts', 'a leading dot allows subdomains; ports are not compared');
  },
  skip_jwt_bearer_tokens: (v, c) => {
    if (!asBool(v)) return changed('bearer tokens stay off (bearer.accept: [])');
    c.set('bearer.accept', ['jwt']);
    const clientId = c.opts.get('client_id');
    if (clientId && !c.get('bearer.audiences')) c.set('bearer.audiences', [asString(clientId)]);
    return mapped(
      'bearer.accept',
      'JWT access tokens from the issuer, audience = the client id (as oauth2-proxy)',
    );
  },
  extra_jwt_issuers: (v, c) => {
    const issuers = asList(v).map((pair) => {
      const at = pair.lastIndexOf('=');
      return { issuer: pair.slice(0, at), audiences: [pair.slice(at + 1)] };
    });
    c.set('bearer.issuers', issuers);
    return mapped('bearer.issuers');
  },
  provider_ca_files: (v, c) => {
    const files = asList(v);
    c.set('provider.caFile', files.length === 1 ? files[0] : files);
    return mapped('provider.caFile');
  },
  backend_logout_url: () =>
    unsupported(
      "logout goes to the provider's end_session_endpoint (RP-initiated logout), or provider.logoutUrl",
    ),
  ping_path: () => changed('liveness is /healthz'),
  ready_path: () => changed('readiness is /readyz'),
  metrics_address: to('metrics.listen', (v) => asString(v).replace(/^https?:\/\//, '')),
  request_logging: () => changed('one JSON line per request on stdout (logging.level)'),
  auth_logging: () => changed('JSON log lines on stdout (logging.level)'),
  standard_logging: () => changed('JSON log lines on stdout (logging.level)'),
  silence_ping_logging: () => changed('JSON log lines on stdout (logging.level)'),
  logging_filename: () => unsupported('logs go to stdout; let the platform collect them'),
  custom_templates_dir: () => unsupported("Gatehouse's pages are built in"),
  custom_sign_in_logo: () => unsupported("Gatehouse's pages are built in"),
  banner: () => unsupported("Gatehouse's pages are built in"),
  footer: () => unsupported("Gatehouse's pages are built in"),
  htpasswd_file: () => unsupported('sign-in is through the OpenID provider only'),
  display_htpasswd_form: () => unsupported('sign-in is through the OpenID provider only'),
  authenticated_emails_file: () =>
    unsupported('list the addresses in authorization.allowedUsers (verified e-mail, matchUsersBy: [email])'),
  api_routes: () =>
    changed(
      'API calls are told apart by fetch metadata and Accept: they get 401 JSON, never a login redirect',
    ),
  force_https: () => changed('publicUrl decides; redirect http to https in front of Gatehouse'),
};

function skipRoutes(list: string[], c: Ctx): Omit<ReportLine, 'option'> {
  const prefixes: string[] = [];
  const refused: string[] = [];
  for (const entry of list) {
    // skip_auth_routes entries may name a method: "GET=^/public"
    const regex = entry.replace(/^[A-Z]+=/, '');
    const p = literalPrefix(regex);
    if (p && !entry.includes('=')) prefixes.push(p);
    else refused.push(entry);
  }
  const existing = (c.get('skipAuth') as string[] | undefined) ?? [];
  if (prefixes.length) c.set('skipAuth', [...new Set([...existing, ...prefixes])]);
  if (!refused.length) return mapped('skipAuth', `path prefixes ${prefixes.join(', ')}`);
  return changed(
    `only literal prefixes (^/path) carry over${prefixes.length ? ` (${prefixes.join(', ')})` : ''}; not carried over: ${refused.join(', ')} — skipAuth has no regular expressions or methods (a regex is easy to get wrong in the unsafe direction)`,
    'skipAuth',
  );
}

function redisNodes(key: string, urls: string[], c: Ctx): Omit<ReportLine, 'option'> {
  const nodes = urls.map((u) => {
    const x = new URL(u);
    return { host: x.hostname, port: Number(x.port || 6379) };
  });
  c.set(key, nodes);
  return mapped(key);
}

/** Every oauth2-proxy option this migration knows (docs/migrating-from-oauth2-proxy.md lists each). */
export function knownOauth2ProxyOptions(): string[] {
  return Object.keys(HANDLERS);
}

/** The options in a stable order: the report reads top-down as a config file does. */
export function translateOauth2Proxy(opts: Oauth2ProxyOptions): Translation {
  const config: Record<string, unknown> = {};
  const ctx: Ctx = {
    opts,
    set(path, value) {
      const parts = path.split('.');
      let o = config;
      for (const p of parts.slice(0, -1)) {
        o[p] ??= {};
        o = o[p] as Record<string, unknown>;
      }
      o[parts.at(-1)!] = value;
    },
    get(path) {
      let o: unknown = config;
      for (const p of path.split('.')) o = (o as Record<string, unknown> | undefined)?.[p];
      return o;
    },
  };
  const report: ReportLine[] = [];
  // oidc_issuer_url before provider (a provider's default issuer only when none is given).
  const order = [...opts.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  for (const option of order) {
    const handler = HANDLERS[option];
    const line = handler
      ? handler(opts.get(option)!, ctx)
      : unsupported('not an oauth2-proxy option Gatehouse knows: check the spelling, or map it by hand');
    report.push({ option, ...line });
  }
  return { config, report };
}

function rank(option: string): number {
  return option === 'oidc_issuer_url' ? 0 : option === 'client_id' ? 1 : option === 'provider' ? 2 : 3;
}
