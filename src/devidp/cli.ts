// `gatehouse dev-idp ...`. Prints one line on start (scripts wait for it to learn the issuer)
// and stops cleanly on SIGINT/SIGTERM. Flag errors exit 2, like other Unix tools' usage errors.
import { parseArgs } from 'node:util';
import { parseClientFlag } from './clients.js';
import { parseFaultSpec } from './faults.js';
import { isLoopbackAddress } from './http.js';
import { PROFILE_INFO } from './profiles.js';
import { startDevIdp } from './server.js';
import type { DevIdp, DevIdpOptions } from './types.js';

const USAGE = `Usage: gatehouse dev-idp [options]

A local OpenID provider for development and tests.

Options:
  --host HOST                  interface to bind (default 127.0.0.1)
  --port PORT                  port (default 9000; 0 picks a free port)
  --profile NAME[,NAME]        activate a profile; repeatable (see below)
  --access-token-ttl S         access token lifetime in seconds (default 300)
  --id-token-ttl S             ID token lifetime in seconds (default 300)
  --refresh-token-ttl S        refresh token lifetime in seconds (default 86400)
  --auto-login USER            approve every authorization at once as USER (no login page)
  --users FILE                 JSON array of users instead of alice, bob and carol
  --client-id ID               client id (default gatehouse)
  --client-secret SECRET       client secret (default gatehouse-dev-secret)
  --redirect-uri URL           allowed redirect URI; repeatable (default: any loopback URI)
  --post-logout-redirect-uri URL  allowed post-logout URI; repeatable (default: any loopback URI)
  --backchannel-logout-uri URL where back-channel logout tokens are POSTed
  --frontchannel-logout-uri URL  framed (with iss and sid) by end-session when a session ends
  --token-delay-ms MS          delay of token-endpoint-slow (default 2000)
  --device-code-ttl S          device code (RFC 8628) lifetime in seconds (default 600)
  --device-interval S          seconds a device waits between polls (default 5)
  --audience AUD               aud of access tokens when nothing else names one (default gatehouse-api)
  --client SPEC                add a client; repeatable. SPEC: id=ID,secret=S[,scopes=A B][,audience=AUD]
                               [,grants=client_credentials refresh_token authorization_code]
  --clients-file FILE          JSON array of clients {id, secret, scopes?, audience?, grantTypes?}
  --registration-token TOKEN   POST /register (RFC 7591) requires "Authorization: Bearer TOKEN"
                               (default: registration is open)
  --fault SPEC                 inject a fault; repeatable. SPEC: endpoint=E[,kind=K][,nth=N]
                               [,probability=P,seed=S][,latencyMs=MS,jitterMs=MS][,times=N]
                               [,status=CODE][,retryAfter=S][,skewSeconds=S]
                               [,overlap=true|false][,publishAfter=N] (see docs/dev-idp.md)
  --issuer-path NAME           also serve an independent issuer at <root>/NAME, with its own
                               discovery, keys, clients, users, sessions, tokens, profiles,
                               faults and admin API (<root>/NAME/__admin/); repeatable. NAME is
                               segments of A-Z a-z 0-9 . _ ~ - joined by "/" (realms/main,
                               <tenant-id>/v2.0), not starting like a root endpoint (authorize, ...)
  --quiet                      no log output except the start lines
  --list-profiles              print one line per profile (name, kind, summary; tab-separated), exit
  -h, --help                   show this help

Profiles:
${PROFILE_INFO.map((p) => `  ${p.name.padEnd(30)}${p.summary}`).join('\n')}

Docs: docs/dev-idp.md
`;

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  profile: { type: 'string', multiple: true },
  'access-token-ttl': { type: 'string' },
  'id-token-ttl': { type: 'string' },
  'refresh-token-ttl': { type: 'string' },
  'auto-login': { type: 'string' },
  users: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'post-logout-redirect-uri': { type: 'string', multiple: true },
  'backchannel-logout-uri': { type: 'string' },
  'frontchannel-logout-uri': { type: 'string' },
  'token-delay-ms': { type: 'string' },
  'device-code-ttl': { type: 'string' },
  'device-interval': { type: 'string' },
  audience: { type: 'string' },
  client: { type: 'string', multiple: true },
  'clients-file': { type: 'string' },
  'registration-token': { type: 'string' },
  fault: { type: 'string', multiple: true },
  'issuer-path': { type: 'string', multiple: true },
  quiet: { type: 'boolean' },
  'list-profiles': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function integer(
  flag: string,
  raw: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${flag} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    // node:util's messages already name the flag ("Unknown option '--bogus'").
    throw new UsageError((err as Error).message);
  }
}

/** Flags → options; throws UsageError naming the offending flag. */
export function parseDevIdpArgs(
  argv: string[],
): { help: true } | { help: false; listProfiles: boolean; options: DevIdpOptions } {
  const values = parseFlags(argv);
  if (values.help) return { help: true };
  const profiles = (values.profile ?? [])
    .flatMap((p) => p.split(','))
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const options: DevIdpOptions = {
    host: values.host,
    port: integer('port', values.port, 0, 65535),
    profiles,
    accessTokenTtl: integer('access-token-ttl', values['access-token-ttl'], 1),
    idTokenTtl: integer('id-token-ttl', values['id-token-ttl'], 1),
    refreshTokenTtl: integer('refresh-token-ttl', values['refresh-token-ttl'], 1),
    autoLogin: values['auto-login'],
    users: values.users,
    clientId: values['client-id'],
    clientSecret: values['client-secret'],
    redirectUris: values['redirect-uri'],
    postLogoutRedirectUris: values['post-logout-redirect-uri'],
    backchannelLogoutUri: values['backchannel-logout-uri'],
    frontchannelLogoutUri: values['frontchannel-logout-uri'],
    tokenDelayMs: integer('token-delay-ms', values['token-delay-ms'], 0),
    deviceCodeTtl: integer('device-code-ttl', values['device-code-ttl'], 1),
    deviceInterval: integer('device-interval', values['device-interval'], 1),
    audience: values.audience,
    clients: values.client?.map((spec) => {
      try {
        return parseClientFlag(spec);
      } catch (err) {
        throw new UsageError(`--client: ${(err as Error).message}`);
      }
    }),
    clientsFile: values['clients-file'],
    registrationToken: values['registration-token'],
    quiet: values.quiet,
  };
  if (values['issuer-path'] !== undefined) options.issuerPaths = values['issuer-path'];
  // Set only when given, so the options of a run without --fault stay as they were.
  if (values.fault !== undefined) {
    options.faults = values.fault.map((spec) => {
      try {
        return parseFaultSpec(spec);
      } catch (err) {
        throw new UsageError(`--fault: ${(err as Error).message}`);
      }
    });
  }
  return { help: false, listProfiles: values['list-profiles'] === true, options };
}

/**
 * `--list-profiles`: `name<TAB>kind<TAB>summary`, one line per profile, nothing else, so scripts
 * can `cut -f1` the names or `grep -P '\tfailure\t'` a kind. Summaries never contain a tab.
 */
export function profileListing(): string {
  return PROFILE_INFO.map((p) => `${p.name}\t${p.kind}\t${p.summary}\n`).join('');
}

/** Errors startDevIdp throws for bad option values, mapped back to the flag the user typed. */
const OPTION_FLAGS: [RegExp, string][] = [
  [/unknown dev-idp profile/, '--profile'],
  [/auto-login/, '--auto-login'],
  [/users (file|option)/, '--users'],
  [/^redirectUris/, '--redirect-uri'],
  [/^postLogoutRedirectUris/, '--post-logout-redirect-uri'],
  [/^backchannelLogoutUri/, '--backchannel-logout-uri'],
  [/^frontchannelLogoutUri/, '--frontchannel-logout-uri'],
  [/^host/, '--host'],
  [/^client(Id|Secret)/, '--client-id/--client-secret'],
  [/^clients file/, '--clients-file'],
  [/^clients \(clients option\)|client id ".*" is registered twice/, '--client'],
  [/^clients \(/, '--clients-file'],
  [/^audience/, '--audience'],
  [/^registrationToken/, '--registration-token'],
  [/^issuerPaths/, '--issuer-path'],
];

/** The process facilities the CLI touches; tests pass their own to run it in-process. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  setExitCode(code: number): void;
  /** Resolves with the signal name when the server should stop. */
  waitForStop(): Promise<string>;
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  // exitCode, not exit(): the caller may still have cleanup to run; the process then ends by itself.
  setExitCode: (code) => {
    process.exitCode = code;
  },
  waitForStop: () =>
    new Promise((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolve(signal);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }),
};

/** The client secret every copy of the dev IdP accepts unless --client-secret says otherwise. */
const DEFAULT_CLIENT_SECRET = 'gatehouse-dev-secret';

/**
 * A warning for a dev IdP reachable from other hosts with the well-known default secret: anyone
 * who can reach the port can then run the code flow as a confidential client and get tokens.
 */
export function exposureWarning(o: DevIdpOptions): string | undefined {
  const host = (o.host ?? '127.0.0.1').replace(/^\[|\]$/g, '');
  const loopback = host.toLowerCase() === 'localhost' || isLoopbackAddress(host);
  if (loopback || (o.clientSecret !== undefined && o.clientSecret !== DEFAULT_CLIENT_SECRET))
    return undefined;
  return (
    `gatehouse dev-idp: WARNING: listening on ${host}, which is not a loopback address, with the ` +
    `well-known default client secret "${DEFAULT_CLIENT_SECRET}": anyone who can reach this port can ` +
    'get tokens for its users. Use --host 127.0.0.1, or set --client-secret to a secret of your own. ' +
    'The dev IdP is for development and tests, never for production.\n'
  );
}

export async function runDevIdpCli(argv: string[], io: CliIo = processIo): Promise<void> {
  const fail = (message: string, code: number): void => {
    io.err(`gatehouse dev-idp: ${message}\n`);
    io.setExitCode(code);
  };
  let parsed: ReturnType<typeof parseDevIdpArgs>;
  try {
    parsed = parseDevIdpArgs(argv);
  } catch (err) {
    return fail(`${(err as Error).message}\nRun "gatehouse dev-idp --help" for usage.`, 2);
  }
  if (parsed.help) {
    io.out(USAGE);
    return;
  }
  if (parsed.listProfiles) {
    io.out(profileListing());
    return;
  }
  let idp: DevIdp;
  try {
    idp = await startDevIdp(parsed.options);
  } catch (err) {
    const message = (err as Error).message;
    const flag = OPTION_FLAGS.find(([re]) => re.test(message))?.[1];
    if (flag !== undefined) return fail(`${flag}: ${message}`, 2);
    return fail(`cannot start: ${message}`, 1); // e.g. EADDRINUSE
  }
  const warning = exposureWarning(parsed.options);
  if (warning) io.err(warning); // even with --quiet: it is about who can reach this IdP
  // Registered before the start line is printed, so a supervisor that signals as soon as it
  // reads the line never hits the default (abrupt) signal behaviour.
  const stopped = io.waitForStop();
  const profiles = idp.profiles();
  io.out(
    `dev-idp listening on ${idp.issuer} (profiles: ${profiles.length > 0 ? profiles.join(', ') : 'none'})\n`,
  );
  // After the start line, which stays the first and only line a script needs for the root issuer.
  for (const name of idp.tenants()) io.out(`dev-idp tenant issuer ${idp.tenant(name).issuer}\n`);
  const signal = await stopped;
  if (!parsed.options.quiet) io.err(`dev-idp: ${signal} received, stopping\n`);
  await idp.stop();
}
