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
  /**
   * What keeps the configuration from being complete although it would start: an oauth2-proxy
   * restriction on who may sign in that was not carried over (the file would let more people in).
   */
  problems: string[];
}

type Ctx = {
  set(path: string, value: unknown): void;
  get(path: string): unknown;
  /** The written configuration would let in someone oauth2-proxy kept out: not complete (exit 78). */
  widens(problem: string): void;
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

/**
 * oauth2-proxy options that limit who may sign in to members of something the provider knows
 * (an organisation, team, group, project, tenant). Gatehouse carries none of them over, so each
 * one present makes the written configuration wider than the original: never complete.
 */
const PROVIDER_ALLOW_LISTS: Readonly<Record<string, string>> = {
  github_org: 'members of that GitHub organisation',
  github_team: 'members of those GitHub teams',
  github_repo: 'collaborators on that GitHub repository',
  github_users: 'those GitHub users',
  gitlab_groups: 'members of those GitLab groups',
  gitlab_projects: 'members of those GitLab projects',
  google_groups: 'members of those Google groups',
  keycloak_groups: 'members of those Keycloak groups',
  bitbucket_team: 'members of that Bitbucket team',
  bitbucket_repository: 'collaborators on that Bitbucket repository',
  entra_id_allowed_tenants: 'accounts of those Entra ID tenants',
  azure_tenant: 'accounts of that Azure tenant',
};
const providerAllowListHandlers = (): Record<string, Handler> =>
  Object.fromEntries(
    Object.entries(PROVIDER_ALLOW_LISTS).map(([option, who]): [string, Handler] => [
      option,
      (_v, c) => {
        c.widens(
          `${option}: oauth2-proxy lets only ${who} sign in, and nothing here carries it over — express it in authorization.allowedGroups (provider.groupsClaim) or allowedUsers before starting, or every account of the provider gets in`,
        );
        return unsupported(
          'no provider-specific membership check: put the membership in a claim (groups) and use authorization.allowedGroups, or list authorization.allowedUsers',
        );
      },
    ]),
  );

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
    // oauth2-proxy reads ".corp.example.com" and "*.corp.example.com" as "any subdomain of";
    // allowedEmailDomains compares whole domains, so those entries now admit nobody.
    const wildcards = list.filter((d) => d.startsWith('.') || d.startsWith('*.'));
    if (wildcards.length) {
      return changed(
        `only verified addresses count, and domains match exactly: ${wildcards.join(', ')} (subdomains in oauth2-proxy) now match no address — list each subdomain`,
        'authorization.allowedEmailDomains',
      );
    }
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
    if (u.pathname === '/') {
      c.set('upstream', first);
      return mapped('upstream');
    }
    // In oauth2-proxy the path is a route: /app/x goes to <origin>/app/x, unchanged, and other
    // paths get 404. Gatehouse prefixes an upstream's path to every request (/app/app/x), so
    // the equivalent is the origin.
    c.set('upstream', u.origin);
    return changed(
      `the upstream is ${u.origin}: requests keep their path as in oauth2-proxy, but every path is proxied, not only ${u.pathname} (oauth2-proxy answered 404 outside it) — restrict them in your web server or with authorization.rules if that matters`,
      'upstream',
    );
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
  // oauth2-proxy's Authorization header carries the ID token; Gatehouse's the access token.
  pass_authorization_header: (v, c) => {
    c.set('headers.passAuthorizationHeader', asBool(v));
    return changed(
      'Authorization: Bearer <access token> to the upstream, where oauth2-proxy sent the ID token — an upstream that verifies it as an ID token (aud = client id) must accept the access token instead',
      'headers.passAuthorizationHeader',
    );
  },
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
    // oauth2-proxy reads extra issuers only with skip_jwt_bearer_tokens; without it no bearer
    // token is accepted, and carrying them over would only invite turning bearer.accept on.
    const skip = c.opts.get('skip_jwt_bearer_tokens');
    if (!skip || !asBool(skip)) return changed('ignored, as by oauth2-proxy: skip_jwt_bearer_tokens is off');
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
  authenticated_emails_file: (_v, c) => {
    // oauth2-proxy admits an address on email_domains OR in the file: next to email_domains,
    // dropping the file only narrows access; alone, it is the only allow-list there is.
    const domains = c.opts.get('email_domains');
    if (!domains || asList(domains).length === 0) {
      c.widens(
        'authenticated_emails_file: oauth2-proxy lets only the addresses in that file sign in, and nothing here carries it over — list them in authorization.allowedUsers (matchUsersBy: [email]) before starting, or every account of the provider gets in',
      );
    }
    return unsupported(
      'list the addresses in authorization.allowedUsers (verified e-mail, matchUsersBy: [email])',
    );
  },
  api_routes: () =>
    changed(
      'API calls are told apart by fetch metadata and Accept: they get 401 JSON, never a login redirect',
    ),
  force_https: () => changed('publicUrl decides; redirect http to https in front of Gatehouse'),
  ...providerAllowListHandlers(),
};

/** An option the migration does not know whose name reads like an allow-list: assumed to restrict (fail closed). */
const LOOKS_RESTRICTIVE =
  /(?:^|_)(?:allowed|group|groups|team|teams|org|orgs|users|emails|tenant|tenants|repo|repository|project|projects|whitelist)(?:_|$)/;

function skipRoutes(list: string[], c: Ctx): Omit<ReportLine, 'option'> {
  const prefixes: string[] = [];
  const refused: string[] = [];
  const widened: string[] = [];
  for (const entry of list) {
    // skip_auth_routes entries may name a method: "GET=^/public"
    const regex = entry.replace(/^[A-Z]+=/, '');
    const p = literalPrefix(regex);
    if (p && !entry.includes('=')) {
      prefixes.push(p);
      // `^/public/` does not match `/public`; the prefix /public covers it (segment-bounded).
      if (p !== '/' && /\/(?:\.\*)?$/.test(regex)) widened.push(p);
    } else refused.push(entry);
  }
  const existing = (c.get('skipAuth') as string[] | undefined) ?? [];
  if (prefixes.length) c.set('skipAuth', [...new Set([...existing, ...prefixes])]);
  const itself = widened.length
    ? `; ${widened.map((w) => `${w} itself`).join(', ')} is exempt too (the regex asked for a path below it)`
    : '';
  if (!refused.length) {
    return widened.length
      ? changed(`path prefixes ${prefixes.join(', ')}${itself}`, 'skipAuth')
      : mapped('skipAuth', `path prefixes ${prefixes.join(', ')}`);
  }
  return changed(
    `only literal prefixes (^/path) carry over${prefixes.length ? ` (${prefixes.join(', ')})` : ''}${itself}; not carried over: ${refused.join(', ')} — skipAuth has no regular expressions or methods (a regex is easy to get wrong in the unsafe direction)`,
    'skipAuth',
  );
}

function redisNodes(key: string, urls: string[], c: Ctx): Omit<ReportLine, 'option'> {
  const nodes: Array<{ host: string; port: number }> = [];
  for (const [i, u] of urls.entries()) {
    let x: URL;
    try {
      x = new URL(u);
    } catch {
      // Not the URL itself: it may carry the Redis password.
      return unsupported(`entry ${i + 1} is not a URL (redis://host:port); set ${key} by hand`);
    }
    nodes.push({ host: x.hostname, port: Number(x.port || 6379) });
  }
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
  const problems: string[] = [];
  const ctx: Ctx = {
    opts,
    widens(problem) {
      problems.push(problem);
    },
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
    if (!handler && LOOKS_RESTRICTIVE.test(option)) {
      problems.push(
        `${option}: not an option this migration knows, and it reads like a restriction on who may sign in — carry it over by hand (authorization.*) before starting, or check the spelling`,
      );
    }
    const line = handler
      ? handler(opts.get(option)!, ctx)
      : unsupported('not an oauth2-proxy option Gatehouse knows: check the spelling, or map it by hand');
    report.push({ option, ...line });
  }
  return { config, report, problems };
}

function rank(option: string): number {
  return option === 'oidc_issuer_url' ? 0 : option === 'client_id' ? 1 : option === 'provider' ? 2 : 3;
}
