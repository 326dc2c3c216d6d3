/**
 * Hostile-input suite (issue 8, "Also"): hundreds of requests an attacker would try, against a
 * real stack (dev IdP, echo upstream, the reverse proxy and its forward-auth endpoints), raw
 * sockets for what an HTTP client library will not send. Rule `/admin → allowedGroups [admins]`,
 * `skipAuth: [/public]`; bob (group dev) must never reach /admin, an anonymous client nothing but
 * /public, and alice (admins) is the control that proves a spelling was read as /admin at all.
 *
 * Every request goes through `verdict()`, which asserts: no 5xx; any Location is our own origin
 * or the IdP's authorize endpoint; if the echo upstream was reached, no client-sent identity or
 * forwarding header arrived in any spelling, the identity is the caller's own, and no way a
 * plausible upstream reads the forwarded path (decoded once or twice, case-folded, `;params`
 * dropped, `\` as `/`, dot segments resolved) is a path the caller may not see.
 * Generated spellings come from a seeded PRNG: runs are reproducible (HOSTILE_SEED to vary).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { mulberry32 } from '../../src/devidp/faults.js';
import type { TestBrowser as Browser } from '../helpers/browser.js';
import { login, type Stack, startStack, TestBrowser } from '../helpers/stack.js';

type Who = 'bob' | 'alice' | 'anon';

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Interim (1xx) responses seen before this one. */
  interim: number[];
}

const SEED = Number(process.env.HOSTILE_SEED ?? 20260802);
const MARK = 'spoof';
const MARK_IP = '10.66.66.66';

let s: Stack;
let port: number;
let origin: string;
const cookies: Record<'bob' | 'alice', string> = { bob: '', alice: '' };
let bobSession = '';
let sent = 0;
/** Upgrades the upstream was asked for, and bytes that arrived on upstream upgrade sockets. */
const upgradesSeen: Array<{ url: string; upgrade: string; headers: Record<string, unknown> }> = [];
const tunnelled: string[] = [];
const upstreamSockets: Duplex[] = [];

// ---------------------------------------------------------------- deterministic generator (mulberry32, shared with the dev IdP faults)

const pct = (ch: string, lower = false) => {
  const h = ch.charCodeAt(0).toString(16).padStart(2, '0');
  return `%${lower ? h.toLowerCase() : h.toUpperCase()}`;
};

/** Spellings of `/admin/panel` that a lenient upstream routes to /admin (no refused characters). */
function generatedAdminSpellings(n: number, seed: number): string[] {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out = new Set<string>();
  while (out.size < n) {
    let word = '';
    for (const ch of 'admin') {
      let c = rnd() < 0.5 ? ch.toUpperCase() : ch;
      if (rnd() < 0.3) c = pct(c, rnd() < 0.5);
      word += c;
    }
    const segs = [word];
    if (rnd() < 0.3) segs[0] += pick([';x', ';jsessionid=1', ';']);
    const prefix = pick([
      '',
      '',
      '/.',
      '/public/..',
      '/x/..',
      '/public/%2e%2e',
      '/public/.%2E',
      '/',
      '//',
      '/./.',
    ]);
    const tail = pick(['/panel', '/panel/', '', '/', '/./panel', '//panel', '/x/../panel']);
    out.add(`${prefix}/${segs.join('/')}${tail}`);
  }
  return [...out];
}

/** Case flips of a word, seeded. */
function caseFlips(word: string, n: number, seed: number): string[] {
  const rnd = mulberry32(seed);
  const out = new Set<string>();
  for (let i = 0; i < n * 4 && out.size < n; i++) {
    const w = [...word].map((c) => (rnd() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('');
    if (w !== word) out.add(w);
  }
  return [...out];
}

// ---------------------------------------------------------------- how upstreams may read a path

function lenientDecode(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
  }
}

function dotResolve(p: string): string {
  const out: string[] = [];
  const segs = p.split('/');
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg === '.' || (seg === '' && i < segs.length - 1)) continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return `/${out.join('/')}`;
}

/**
 * Readings of a forwarded path by common upstreams: as sent; `;params` dropped before decoding
 * (Tomcat, Jetty, Spring); decoded once (everyone) or twice (the double-decoding bug); `\` read as
 * `/` (IIS, Windows); dot segments resolved; case folded (Express, ASP.NET, IIS route `/Admin` to
 * `/admin`).
 */
function plausibleReadings(target: string): string[] {
  const hash = target.indexOf('#');
  let p = hash === -1 ? target : target.slice(0, hash);
  const q = p.indexOf('?');
  if (q !== -1) p = p.slice(0, q);
  const out = new Set<string>();
  for (const x of [p, p.replace(/;[^/]*/g, '')]) {
    const once = lenientDecode(x);
    for (const base of [x, once, lenientDecode(once)]) {
      for (const slashes of [base, base.replace(/\\/g, '/')]) {
        out.add(dotResolve(slashes.startsWith('/') ? slashes : `/${slashes}`).toLowerCase());
      }
    }
  }
  return [...out];
}

/**
 * Readings by rarer or legacy decoders: `;params` dropped after decoding (so `%3B` is a `;`),
 * overlong UTF-8 dots and slashes, NUL truncation, Windows trailing dots and spaces, NFKC
 * (fullwidth letters), and case folding through upper case (`ı`, `ſ`).
 */
function legacyReadings(target: string): string[] {
  const overlong = target
    .replace(/%c0%ae/gi, '.')
    .replace(/%c0%af/gi, '/')
    .replace(/%e0%80%ae/gi, '.');
  const out = new Set<string>();
  for (const r0 of plausibleReadings(overlong)) {
    for (const r of [r0, dotResolve(r0.replace(/;[^/]*/g, ''))]) {
      const nul = r.indexOf('\u0000');
      const cut = nul === -1 ? r : r.slice(0, nul);
      out.add(cut);
      out.add(cut.replace(/[. ]+(?=\/|$)/g, ''));
      out.add(cut.normalize('NFKC').toLowerCase());
      out.add(cut.toUpperCase().toLowerCase());
    }
  }
  return [...out];
}

const under = (p: string, prefix: string) => p === prefix || p.startsWith(`${prefix}/`);

// ---------------------------------------------------------------- the per-request verdict

const MANAGED_EXACT = new Set(['x-real-ip', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);
const managed = (normalised: string) =>
  MANAGED_EXACT.has(normalised) ||
  normalised.startsWith('x-forwarded-') ||
  normalised.startsWith('x-auth-request-') ||
  normalised.startsWith('x-gatehouse-');

interface Echo {
  url: string;
  headers: Record<string, string | string[]>;
  bodyBytes: number;
}

function echoOf(body: string): Echo | undefined {
  if (!body.startsWith('{"method"')) return undefined;
  try {
    const e = JSON.parse(body) as Echo;
    return typeof e.url === 'string' && e.headers ? e : undefined;
  } catch {
    return undefined;
  }
}

const EXPECTED_ID: Record<Who, Record<string, string | undefined>> = {
  bob: { 'x-forwarded-user': 'bob', 'x-forwarded-groups': 'dev', 'x-forwarded-email': 'bob@example.com' },
  alice: { 'x-forwarded-user': 'alice', 'x-forwarded-groups': 'admins,dev' },
  anon: { 'x-forwarded-user': undefined, 'x-forwarded-groups': undefined, 'x-forwarded-email': undefined },
};

interface Verdict {
  status: number;
  echo: Echo | undefined;
}

/**
 * The invariants every request must keep. `what` names the request in failures (it is the
 * reproduction).
 */
function verdict(
  what: string,
  who: Who,
  r: { status: number; headers: Record<string, string | string[] | undefined>; body: string },
  opts: { allowReset?: boolean } = {},
): Verdict {
  const tag = `[${who}] ${what} → ${r.status}`;
  if (r.status === 0) assert.ok(opts.allowReset, `${tag}: connection reset without an answer`);
  assert.ok(r.status < 500, `${tag}: server error ${r.body.slice(0, 200)}`);
  const loc = r.headers.location;
  if (typeof loc === 'string' && loc) {
    const u = new URL(loc, origin);
    const ok =
      u.origin === origin ||
      u.href.startsWith(`${s.idp.issuer}/authorize?`) ||
      u.href.startsWith(`${s.idp.issuer}/end-session?`);
    assert.ok(ok, `${tag}: off-site redirect to ${loc}`);
    if (u.href.startsWith(`${s.idp.issuer}/authorize`)) {
      const cb = u.searchParams.get('redirect_uri') ?? '';
      assert.equal(new URL(cb).origin, origin, `${tag}: redirect_uri off-site: ${cb}`);
    }
  }
  const echo = r.status >= 200 && r.status < 300 ? echoOf(r.body) : undefined;
  if (echo) {
    for (const [name, value] of Object.entries(echo.headers)) {
      const n = name.toLowerCase().replace(/_/g, '-').trim();
      if (!managed(n)) continue;
      const v = String(value).toLowerCase();
      assert.ok(!name.includes('_'), `${tag}: client header ${name}: ${value} reached the upstream`);
      assert.ok(
        !v.includes(MARK) && !v.includes(MARK_IP),
        `${tag}: spoofed ${name}: ${value} reached the upstream`,
      );
    }
    // On a skipAuth path nobody's identity is forwarded; elsewhere exactly the caller's.
    const onPublic =
      under(echo.url.split('?')[0]!, '/public') && echo.headers['x-forwarded-user'] === undefined;
    for (const [h, want] of Object.entries(EXPECTED_ID[onPublic ? 'anon' : who])) {
      assert.equal(echo.headers[h], want, `${tag}: upstream saw ${h}=${String(echo.headers[h])}`);
    }
    const xff = echo.headers['x-forwarded-for'];
    if (xff !== undefined)
      assert.equal(xff, '127.0.0.1', `${tag}: X-Forwarded-For not rebuilt: ${String(xff)}`);
    if (echo.headers['x-real-ip'] !== undefined)
      assert.equal(echo.headers['x-real-ip'], '127.0.0.1', `${tag}: X-Real-IP not rebuilt`);
    if (bobSession) {
      assert.ok(
        !String(echo.headers.cookie ?? '').includes(bobSession),
        `${tag}: session cookie sent upstream`,
      );
    }
    const readings = plausibleReadings(echo.url);
    if (who !== 'alice') {
      const hit = readings.find((p) => under(p, '/admin'));
      assert.equal(hit, undefined, `${tag}: rule bypass, upstream got ${echo.url} (read as ${hit})`);
    }
    if (who === 'anon') {
      const path = echo.url.split('?')[0]!;
      assert.ok(under(path, '/public'), `${tag}: anonymous reached ${echo.url}`);
      const off = readings.find((p) => !under(p, '/public'));
      assert.equal(off, undefined, `${tag}: anonymous reached ${echo.url} (read as ${off})`);
    }
  }
  return { status: r.status, echo };
}

/** Runs `fn` for every item and fails once, listing every item that failed (not just the first). */
async function each<T>(items: readonly T[], fn: (x: T) => Promise<void>): Promise<void> {
  const fails: string[] = [];
  for (const x of items) {
    try {
      await fn(x);
    } catch (e) {
      fails.push((e instanceof Error ? e.message : String(e)).replace(/\n\s*\+ actual[\s\S]*/, ''));
    }
  }
  if (fails.length)
    assert.fail(`${fails.length} of ${items.length} failed:\n  ${fails.slice(0, 60).join('\n  ')}`);
}

// ---------------------------------------------------------------- clients

/** Writes `text` on a fresh socket and parses every response until the server closes. */
function raw(text: string | Buffer): Promise<RawReply[]> {
  sent++;
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const started = performance.now();
    const guard = setTimeout(() => sock.destroy(), 5000);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(guard);
      if (process.env.HOSTILE_DEBUG && performance.now() - started > 200)
        process.stderr.write(
          `slow ${Math.round(performance.now() - started)} ms: ${JSON.stringify(String(text).slice(0, 80))}\n`,
        );
      resolve(parseResponses(Buffer.concat(chunks)));
    });
    sock.write(text);
  });
}

function parseResponses(buf: Buffer): RawReply[] {
  const out: RawReply[] = [];
  let interim: number[] = [];
  let at = 0;
  while (at < buf.length) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const head = buf.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(head[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      const k = line.slice(0, i).trim().toLowerCase();
      const v = line.slice(i + 1).trim();
      headers[k] = headers[k] !== undefined ? `${headers[k]}, ${v}` : v;
    }
    at = end + 4;
    if (status >= 100 && status < 200 && status !== 101) {
      interim.push(status);
      continue;
    }
    let body: Buffer = Buffer.alloc(0);
    if (headers['transfer-encoding']?.includes('chunked')) {
      const parts: Buffer[] = [];
      for (;;) {
        const le = buf.indexOf('\r\n', at);
        if (le === -1) break;
        const size = Number.parseInt(buf.subarray(at, le).toString(), 16);
        at = le + 2;
        if (!size) {
          at += 2;
          break;
        }
        parts.push(buf.subarray(at, at + size));
        at += size + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = buf.subarray(at, at + n);
      at += n;
    } else if (status !== 101 && status !== 204 && status !== 304) {
      body = buf.subarray(at);
      at = buf.length;
    }
    out.push({ status, headers, body: body.toString('utf8'), interim });
    interim = [];
    if (status === 101) break;
  }
  if (out.length === 0) out.push({ status: 0, headers: {}, body: '', interim });
  return out;
}

function cookieFor(who: Who): string {
  return who === 'anon' ? '' : `Cookie: ${cookies[who]}\r\n`;
}

/** One raw GET (API-style, so anonymous gets a 401 instead of a login flow). */
async function rawGet(target: string, who: Who, extra = ''): Promise<RawReply> {
  const req =
    `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: application/json\r\n` +
    `${cookieFor(who)}${extra}Connection: close\r\n\r\n`;
  return (await raw(req))[0]!;
}

async function get(
  url: string,
  who: Who,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  sent++;
  const res = await request(url.startsWith('http') ? url : origin + url, {
    headers: { accept: 'application/json', ...(who === 'anon' ? {} : { cookie: cookies[who] }), ...headers },
  });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return { status: res.statusCode, headers: out, body: await res.body.text() };
}

// ---------------------------------------------------------------- the stack

const FIXED_ADMIN = [
  '/admin',
  '/admin/',
  '/admin/panel',
  '/Admin',
  '/ADMIN',
  '/ADMIN/panel',
  '/aDmIn/x',
  '/%61dmin',
  '/%41dmin',
  '/%41DMIN/panel',
  '/a%64min',
  '/adm%69n',
  '/%61%64%6d%69%6e',
  '/%61%64%6D%69%6E/x',
  '//admin',
  '///admin/x',
  '/./admin',
  '/x/../admin',
  '/public/../admin',
  '/public/%2e%2e/admin',
  '/public/.%2e/admin',
  '/public/%2E%2E/ADMIN',
  '/public/..;/admin',
  '/admin;jsessionid=1',
  '/admin;/x',
  '/ADMIN;x/panel',
  '/%2fadmin',
  '/public%2f..%2fadmin',
  '/public%2F..%2FAdmin/x',
  '/admin%2fpanel',
  '/x/..%2fadmin',
  '/public/%2e%2e%2fadmin',
  '/public/./../admin',
  '/admin?x=/public',
  '/admin/panel?/public/',
];

/** Spellings the issue says are refused outright (400): fragments, backslashes, encoded percent. */
const REFUSED = [
  '/admin#x',
  '/admin#',
  '/public#/../admin',
  '/public/x#/../../admin',
  '/admin\\x',
  '/public\\..\\admin',
  '\\admin',
  '/%5cadmin',
  '/public%5c..%5cadmin',
  '/public/..%5Cadmin',
  '/%2561dmin',
  '/public/%252e%252e/admin',
  '/public%252f..%252fadmin',
  '/admin%255c',
  '/%25',
];

before(async () => {
  s = await startStack({
    config: {
      skipAuth: ['/public'],
      authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
      // This suite sends hundreds of requests from one address; the rate limit has its own tests.
      login: { rateLimitPerMinute: 0 },
      // Leaked upgrade sockets (FINDINGS F11) would hold the final close for the default 25 s.
      shutdownTimeoutSeconds: 3,
    } as never,
  });
  origin = s.url;
  port = Number(new URL(s.url).port);
  const cookieOf = (b: Browser) =>
    [...b.cookies(new URL(origin).host)].map(([k, v]) => `${k}=${v}`).join('; ');
  const bob = new TestBrowser();
  assert.equal((await login(s, bob, { user: 'bob' })).at(-1)!.status, 200);
  cookies.bob = cookieOf(bob);
  bobSession = bob.cookie(origin, s.cfg.session.cookieName) ?? '';
  const alice = new TestBrowser();
  assert.equal((await login(s, alice, { user: 'alice' })).at(-1)!.status, 200);
  cookies.alice = cookieOf(alice);
  // WebSocket upgrades reach this: a 101 that carries what the upstream received.
  // WebSocket upgrades reach this: a 101 that carries what the upstream received. An upstream that
  // says yes to any protocol (as h2c-capable servers do for h2c) is the worst case for a tunnel;
  // /refuse-upgrade answers 426 and keeps its socket open (a proxy must not tunnel after that).
  s.upstream.server.on('upgrade', (req, socket) => {
    upgradesSeen.push({ url: req.url ?? '', upgrade: String(req.headers.upgrade), headers: req.headers });
    upstreamSockets.push(socket);
    socket.on('data', (d: Buffer) => {
      tunnelled.push(d.toString('latin1'));
      socket.end();
    });
    socket.on('error', () => {});
    if (req.url?.includes('refuse-upgrade')) {
      socket.write('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const echo = Buffer.from(JSON.stringify({ url: req.url, headers: req.headers })).toString('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${String(req.headers.upgrade)}\r\nConnection: Upgrade\r\nX-Echo: ${echo}\r\n\r\n`,
    );
    // A WebSocket answer ends at once; any other protocol stays open for whatever comes through.
    if (String(req.headers.upgrade).toLowerCase() === 'websocket') socket.end();
  });
});

after(async () => {
  for (const sock of upstreamSockets) sock.destroy();
  await s.close();
});

// ---------------------------------------------------------------- attack classes

const SPOOF_NAMES = [
  'X-Forwarded-User',
  'X_Forwarded_User',
  'x_forwarded_user',
  'X-FORWARDED-USER',
  'X-Forwarded_User',
  'X_Forwarded-User',
  'X-Forwarded-Groups',
  'X_Forwarded_Groups',
  'x-forwarded-groups',
  'X-Forwarded-Groups-Truncated',
  'X_Forwarded_Groups_Truncated',
  'X-Forwarded-Email',
  'X_Forwarded_Email',
  'X-Forwarded-Preferred-Username',
  'X_Forwarded_Preferred_Username',
  'X-Forwarded-Access-Token',
  'X_Forwarded_Access_Token',
  'X-Auth-Request-User',
  'X_Auth_Request_User',
  'X-Auth-Request-Email',
  'X-Auth-Request-Groups',
  'X-Auth-Request-Preferred-Username',
  'X-Auth-Request-Access-Token',
  'X-Gatehouse-User',
  'X_Gatehouse_Identity',
];

const SPOOF_FORWARDING: Array<[string, string]> = [
  ['X-Forwarded-For', MARK_IP],
  ['X_Forwarded_For', MARK_IP],
  ['X-Real-IP', MARK_IP],
  ['X_Real_IP', MARK_IP],
  ['x_real_ip', MARK_IP],
  ['X-Forwarded-Host', `${MARK}.example`],
  ['X_Forwarded_Host', `${MARK}.example`],
  ['X-Forwarded-Proto', MARK],
  ['X_Forwarded_Proto', MARK],
];

describe('identity headers cannot be smuggled (underscore, case and dash spellings)', () => {
  for (const who of ['bob', 'anon'] as const) {
    const path = who === 'anon' ? '/public/x' : '/';
    it(`${who} on ${path}: every spelling of every managed header is removed`, async () => {
      await each(SPOOF_NAMES, async (name) => {
        const value = name.toLowerCase().includes('groups') ? `admins,${MARK}` : `${MARK}-mallory`;
        const r = await rawGet(path, who, `${name}: ${value}\r\n`);
        const v = verdict(`GET ${path} with ${name}: ${value}`, who, r);
        assert.equal(v.status, 200, `GET ${path} with ${name}`);
      });
    });
  }

  it('all spellings at once, twice each, with a Connection header naming them', async () => {
    const lines = SPOOF_NAMES.flatMap((n) => [`${n}: ${MARK}-1\r\n`, `${n}: admins\r\n`]).join('');
    await each(['bob', 'alice', 'anon'] as const, async (who) => {
      const path = who === 'anon' ? '/public/all' : '/all';
      verdict(`GET ${path} with every spelling`, who, await rawGet(path, who, lines));
      const conn = 'Connection: close, X-Forwarded-User, X-Forwarded-Groups\r\n';
      const r = (await raw(`GET ${path} HTTP/1.1\r\nHost: x\r\n${cookieFor(who)}${conn}${lines}\r\n`))[0]!;
      verdict(`GET ${path} with Connection naming identity headers`, who, r);
    });
  });

  it('header names with whitespace or folded lines are refused or harmless', async () => {
    const tricks = [
      `X-Forwarded-Groups : admins\r\n`,
      `X-Forwarded-Groups\t: admins\r\n`,
      ` X-Forwarded-User: ${MARK}\r\n`,
      `X-Note: a\r\n X-Forwarded-User: ${MARK}\r\n`,
      `X-Note: a\r\n\tX_Forwarded_Groups: admins\r\n`,
      `X-Forwarded-User:${MARK}\r\n`,
      `X-Forwarded-User: bob\u0000${MARK}\r\n`,
      `X-Forwarded-User: bob\r${MARK}\r\n`,
    ];
    await each(['bob', 'anon'] as const, async (who) => {
      await each(tricks, async (t) => {
        verdict(
          `GET with ${JSON.stringify(t)}`,
          who,
          await rawGet(who === 'anon' ? '/public/x' : '/', who, t),
          {
            allowReset: true,
          },
        );
      });
    });
  });

  it('WebSocket upgrades: no spelling reaches the upstream', async () => {
    await each(['bob', 'anon'] as const, async (who) => {
      await each(
        SPOOF_NAMES.filter((n) => n.includes('_') || n.includes('Groups')),
        async (name) => {
          const path = who === 'anon' ? '/public/ws' : '/ws';
          const [r] = await raw(
            `GET ${path} HTTP/1.1\r\nHost: x\r\n${cookieFor(who)}Upgrade: websocket\r\nConnection: Upgrade\r\n` +
              `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${name}: admins,${MARK}\r\n\r\n`,
          );
          assert.equal(r!.status, 101, `upgrade ${path} with ${name}`);
          const echo = JSON.parse(Buffer.from(r!.headers['x-echo']!, 'base64').toString()) as Echo;
          verdict(`upgrade ${path} with ${name}`, who, {
            status: 200,
            headers: {},
            body: JSON.stringify({ method: 'GET', ...echo }),
          });
        },
      );
    });
  });
});

describe('upgrades: only WebSocket is tunnelled (h2c smuggling, FINDINGS F10)', () => {
  /**
   * Sends an upgrade request and, if the gateway answers 101, a second request with spoofed
   * identity headers on the same socket: through a tunnel it would reach the upstream unchecked.
   */
  async function tryTunnel(path: string, who: Who, upgrade: string, extra = ''): Promise<number> {
    sent++;
    const before = tunnelled.length;
    const status = await new Promise<number>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      let buf = '';
      let smuggled = false;
      const guard = setTimeout(() => sock.destroy(), 3000);
      sock.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        if (!smuggled && buf.includes('\r\n\r\n')) {
          smuggled = true;
          // Whatever the answer, try to use the connection as a tunnel; the gateway (or, through a
          // tunnel, the upstream) closes it. Not end(): see FINDINGS F11.
          sock.write(
            `GET /admin HTTP/1.1\r\nHost: x\r\nX-Forwarded-User: alice\r\nX-Forwarded-Groups: admins,${MARK}\r\n\r\n`,
          );
        }
      });
      sock.on('error', () => {});
      sock.on('close', () => {
        clearTimeout(guard);
        resolve(Number(buf.split(' ')[1] ?? 0));
      });
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${cookieFor(who)}Upgrade: ${upgrade}\r\nConnection: Upgrade\r\n${extra}\r\n`,
      );
    });
    const leaked = tunnelled.slice(before).find((d) => d.includes(MARK));
    assert.equal(
      leaked,
      undefined,
      `${who} ${path} Upgrade: ${upgrade} → a raw tunnel carried ${JSON.stringify(leaked)}`,
    );
    return status;
  }

  const h2c = 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';
  const ws = 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
  for (const who of ['anon', 'bob'] as const) {
    it(`${who}: h2c and other protocols are never tunnelled to the upstream`, async () => {
      const path = who === 'anon' ? '/public/x' : '/x';
      await each(
        [
          ['h2c', h2c],
          ['H2C', h2c],
          ['h2c', `${h2c}${ws}`],
          ['websocket, h2c', `${h2c}${ws}`],
          ['h2c, websocket', h2c],
          ['foo', ''],
          ['TLS/1.2', ''],
          ['HTTP/2.0', h2c],
        ] as const,
        async ([upgrade, extra]) => {
          const seen = upgradesSeen.length;
          const status = await tryTunnel(path, who, upgrade, extra);
          assert.notEqual(status, 101, `${who} ${path} Upgrade: ${upgrade} was switched (101)`);
          assert.ok(status < 500 || status === 502, `${who} ${path} Upgrade: ${upgrade} → ${status}`);
          const asked = upgradesSeen.slice(seen).find((u) => u.upgrade.toLowerCase() !== 'websocket');
          assert.equal(
            asked,
            undefined,
            `${who} ${path}: the upstream was asked to upgrade to ${asked?.upgrade}`,
          );
          assert.ok(
            upgradesSeen.slice(seen).every((u) => u.headers['http2-settings'] === undefined),
            'HTTP2-Settings reached the upstream',
          );
        },
      );
    });
  }

  it('refused upgrades leave no connection behind, even when the client sends more (FINDINGS F11)', async () => {
    const conns = () => new Promise<number>((r) => s.gw.server.getConnections((_e, n) => r(n)));
    const base = await conns();
    const n = 30;
    await Promise.all(
      Array.from({ length: n }, (_x, i) =>
        tryTunnel(i % 2 ? '/app' : '/refuse-upgrade', i % 2 ? 'anon' : 'bob', 'websocket', ws),
      ),
    );
    // The gateway's side of a closed socket offers no event to await here: poll, bounded.
    const deadline = performance.now() + 2000;
    let open = await conns();
    while (open > base + 2 && performance.now() < deadline) {
      await new Promise<void>((r) => setImmediate(r));
      open = await conns();
    }
    assert.ok(open <= base + 2, `${open - base} of ${n} refused upgrades still hold a server connection`);
  });

  it('an upstream that refuses the upgrade (426) leaves no tunnel', async () => {
    const status = await tryTunnel('/refuse-upgrade', 'bob', 'websocket', ws);
    assert.notEqual(status, 101);
  });
});

describe('forwarding headers are rebuilt from the socket (X-Forwarded-For/-Host/-Proto, X-Real-IP)', () => {
  it('a client cannot choose its own address, host or scheme as seen upstream', async () => {
    await each(['bob', 'anon'] as const, async (who) => {
      await each(SPOOF_FORWARDING, async ([name, value]) => {
        const path = who === 'anon' ? '/public/fwd' : '/fwd';
        const v = verdict(
          `GET ${path} with ${name}: ${value}`,
          who,
          await rawGet(path, who, `${name}: ${value}\r\n`),
        );
        assert.equal(v.status, 200);
        assert.equal(v.echo?.headers['x-forwarded-proto'], 'http');
        assert.equal(v.echo?.headers['x-forwarded-host'], `127.0.0.1:${port}`);
      });
    });
  });
});

describe('request-target and forwarding override headers never reach the upstream from the client (FINDINGS F6, F7)', () => {
  // Upstreams that route on these (Symfony's old X-Original-URL/X-Rewrite-URL, IIS URL Rewrite,
  // Zend) or build URLs and client addresses from them (RFC 7239 Forwarded in Spring, Jetty,
  // Undertow, Quarkus; X-Forwarded-Prefix/-Port/-Ssl/-Scheme in Spring and Rack) would otherwise
  // serve /admin on a request authorized as /x, or believe a client-chosen address or scheme.
  const overrides: Array<[string, string]> = [
    ['X-Original-URL', '/admin'],
    ['X-Rewrite-URL', '/admin'],
    ['X-Original-URI', '/admin'],
    ['X-Forwarded-Uri', '/admin'],
    ['X-Forwarded-Prefix', `/${MARK}`],
    ['X-Forwarded-Port', '6666'],
    ['X-Forwarded-Server', `${MARK}.example`],
    ['X-Forwarded-Ssl', `on-${MARK}`],
    ['X-Forwarded-Scheme', `https-${MARK}`],
    ['Forwarded', `for=${MARK_IP};proto=https;host=${MARK}.example`],
  ];
  for (const who of ['bob', 'anon'] as const) {
    it(`${who}: none of ${overrides.length} override headers is forwarded`, async () => {
      const path = who === 'anon' ? '/public/x' : '/x';
      await each(overrides, async ([name, value]) => {
        const v = verdict(
          `GET ${path} with ${name}: ${value}`,
          who,
          await rawGet(path, who, `${name}: ${value}\r\n`),
        );
        assert.equal(v.status, 200);
        const seen = v.echo!.headers[name.toLowerCase()];
        assert.equal(
          seen,
          undefined,
          `GET ${path} with ${name}: ${value} → upstream saw ${name}: ${String(seen)}`,
        );
      });
    });
  }
});

describe('a restricted path stays restricted in every spelling (case, encoding, dots, slashes, ;params, %2F)', () => {
  const generated = generatedAdminSpellings(40, SEED);
  const all = [...FIXED_ADMIN, ...caseFlips('/admin/panel', 8, SEED + 1), ...generated];

  it(`bob is refused on ${all.length} spellings of /admin (403 or 400, never the upstream)`, async () => {
    await each(all, async (p) => {
      const v = verdict(`GET ${p}`, 'bob', await rawGet(p, 'bob'));
      assert.ok(v.status === 403 || v.status === 400, `bob GET ${p} → ${v.status} (want 403/400)`);
    });
  });

  it('alice (admins) is let through on the same spellings: they really are /admin', async () => {
    await each(all, async (p) => {
      const v = verdict(`GET ${p}`, 'alice', await rawGet(p, 'alice'));
      assert.equal(v.status, 200, `alice GET ${p}`);
      assert.ok(
        plausibleReadings(v.echo!.url).some((r) => under(r, '/admin')),
        `alice GET ${p}: upstream got ${v.echo!.url}, not an /admin path`,
      );
    });
  });

  it('an anonymous client is sent to login (401 for APIs, 302 to the IdP for pages)', async () => {
    await each(FIXED_ADMIN, async (p) => {
      const v = verdict(`GET ${p}`, 'anon', await rawGet(p, 'anon'));
      assert.ok(v.status === 401 || v.status === 400, `anon GET ${p} → ${v.status}`);
    });
    await each(FIXED_ADMIN.slice(0, 8), async (p) => {
      const r = await get(p, 'anon', { accept: 'text/html', 'sec-fetch-mode': 'navigate' });
      const v = verdict(`navigate ${p}`, 'anon', r);
      assert.ok(v.status === 302 || v.status === 400, `anon navigate ${p} → ${v.status}`);
    });
  });

  it('segment boundaries: /administrator and /admins are not /admin (bob gets 200)', async () => {
    await each(['/administrator', '/admins/x', '/ADMINISTRATOR', '/adminx'], async (p) => {
      assert.equal(verdict(`GET ${p}`, 'bob', await rawGet(p, 'bob')).status, 200, p);
    });
  });
});

describe('fragments, backslashes and encoded percent in a path are refused (400)', () => {
  for (const who of ['bob', 'alice', 'anon'] as const) {
    it(`${who}: ${REFUSED.length} targets → 400`, async () => {
      await each(REFUSED, async (p) => {
        const v = verdict(`GET ${p}`, who, await rawGet(p, who));
        assert.equal(v.status, 400, `${who} GET ${p}`);
      });
    });
  }
});

describe('skipAuth opens only the exact configured prefix', () => {
  it('anonymous: /public and below are open, every other spelling needs a login', async () => {
    await each(['/public', '/public/', '/public/x', '/public/a/b?c=d', '/%70ublic/x'], async (p) => {
      assert.equal(verdict(`GET ${p}`, 'anon', await rawGet(p, 'anon')).status, 200, `anon GET ${p}`);
    });
    const closed = [
      '/PUBLIC/x',
      '/Public/x',
      '/%50ublic/x',
      '/publicity',
      '/public/../admin',
      '/public/../x',
      '/public/..;/admin',
      '/public;x/../admin',
      '/public%2f..%2fadmin',
      '/public%2f..%2fx',
      '/public/%2e%2e/x',
      '/public/.%2e/x',
      '/public/%2e%2e%2fx',
      '/public/..%2f..%2fx',
      '//public/../x',
      '/./public/../x',
      ...caseFlips('/public/x', 6, SEED + 2),
    ];
    await each(closed, async (p) => {
      const v = verdict(`GET ${p}`, 'anon', await rawGet(p, 'anon'));
      assert.ok(v.status === 401 || v.status === 400, `anon GET ${p} → ${v.status} (want 401/400)`);
    });
  });
});

describe('rarer decoders: %3B, NUL, overlong UTF-8, trailing dots and spaces, fullwidth and dotless letters', () => {
  const legacy = [
    '/admin%3B/panel',
    '/admin%3bx',
    '/public/..%3B/admin',
    '/public/%c0%ae%c0%ae/admin',
    '/public/%c0%ae%c0%ae%c0%afadmin',
    '/public/%e0%80%ae%e0%80%ae/admin',
    '/admin%00',
    '/admin%00.html',
    '/admin%0a',
    '/admin%09/x',
    '/admin.',
    '/admin./x',
    '/admin%2e',
    '/admin%20',
    '/admin%20/x',
    '/admin%20.%20/x',
    '/%EF%BD%81dmin',
    '/%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E',
    '/adm%C4%B1n',
  ];
  for (const who of ['bob', 'anon'] as const) {
    it(`${who}: no 5xx, no bypass, not even for a legacy decoder (FINDINGS F1–F5)`, async () => {
      const exposed: string[] = [];
      await each(legacy, async (p) => {
        const target = who === 'anon' && !p.startsWith('/public') ? `/public/..${p}` : p;
        const v = verdict(`GET ${target}`, who, await rawGet(target, who));
        if (v.echo && legacyReadings(v.echo.url).some((r) => under(r, '/admin'))) {
          exposed.push(`${target} → upstream ${v.echo.url}`);
        }
      });
      assert.deepEqual(exposed, [], 'what a legacy decoder reads as /admin never reaches the upstream');
    });
  }
});

describe('cookies: forged, tampered, duplicated and oversized session cookies', () => {
  it('never grant a session, never an error', async () => {
    const name = s.cfg.session.cookieName;
    const [id, tag] = bobSession.split('.');
    const flip = (x: string) => x.slice(0, -1) + (x.endsWith('A') ? 'B' : 'A');
    const forged = [
      `${name}=AAAA`,
      `${name}=${flip(bobSession)}`,
      `${name}=${id}.${'A'.repeat(22)}`,
      `${name}=${id}`,
      `${name}=${id}.`,
      `${name}=.${tag}`,
      `${name}=${'A'.repeat(43)}.${tag}`,
      `${name}=${bobSession.toUpperCase()}`,
      `${name}=${bobSession}x`,
      `${name}=%${bobSession}`,
      `${name}=`,
      `${name}`,
      `${name.toUpperCase()}=${bobSession}`,
      `${name}_login=${bobSession}`,
      `${name}=${'x'.repeat(6000)}`,
      `${name}=\u00ff\u00fe`,
      `${name}=${bobSession.replace(/.$/, '%00')}`,
    ];
    await each(forged, async (c) => {
      await each(['/admin', '/x'], async (p) => {
        const r = await rawGet(p, 'anon', `Cookie: ${c}\r\n`);
        const v = verdict(`GET ${p} with Cookie: ${c.slice(0, 80)}`, 'anon', r);
        assert.ok(
          v.status === 401 || v.status === 400 || v.status === 431,
          `${p} with ${c.slice(0, 80)} → ${v.status}`,
        );
      });
    });
  });

  it("bob's cookie in odd company stays bob (never alice, never /admin)", async () => {
    const name = s.cfg.session.cookieName;
    const variants = [
      `Cookie: ${name}=garbage; ${cookies.bob}\r\n`,
      `Cookie: ${cookies.bob}; ${name}=garbage\r\n`,
      `Cookie: ${name}=garbage\r\nCookie: ${cookies.bob}\r\n`,
      `Cookie: ${cookies.bob}\r\nCookie: ${name}=garbage\r\n`,
      `Cookie: ${name}="${bobSession}"\r\n`,
      `Cookie:${cookies.bob};;;  ;\r\n`,
      `Cookie: a=b; ${cookies.bob}; ${name}_login=x\r\n`,
    ];
    await each(variants, async (c) => {
      const r = await rawGet('/admin', 'anon', c);
      assert.ok([401, 403, 400].includes(verdict(`GET /admin with ${c}`, 'bob', r).status), c);
      const home = await rawGet('/', 'anon', c);
      if (home.status === 200) verdict(`GET / with ${c}`, 'bob', home);
      else verdict(`GET / with ${c}`, 'anon', home);
    });
  });
});

/** Starts a login in `b` and returns the IdP's redirect back to our callback (code, state, iss). */
async function flowToCallback(b: Browser, user: string, rd = '/'): Promise<URL> {
  const start = await b.request(`${origin}/oauth2/start?rd=${encodeURIComponent(rd)}`);
  sent++;
  verdict(`start rd=${rd}`, 'anon', start);
  const authorize = new URL(start.location!);
  authorize.searchParams.set('login_hint', user);
  const idp = await b.request(authorize.href);
  sent++;
  assert.equal(idp.status, 302, 'the dev IdP redirects back');
  return new URL(idp.location!);
}

describe('callbacks: forged state, replayed codes, provider error text', () => {
  it('garbage callbacks are 4xx pages that never echo markup', async () => {
    const evil = '<script>alert(1)</script>';
    const queries = [
      '',
      '?code=x',
      '?state=x',
      '?code=x&state=forged',
      '?code=x&state=a&state=b',
      `?state=${'s'.repeat(8000)}&code=c`,
      `?error=access_denied&error_description=${encodeURIComponent(evil)}`,
      `?error=access_denied&state=forged&error_description=${encodeURIComponent(evil)}`,
      `?error=${encodeURIComponent(evil)}&state=forged`,
      '?code=%00&state=%00',
      '?code[]=x&state[]=y',
      '?iss=https%3A%2F%2Fevil.example&code=x&state=y',
    ];
    await each(queries, async (q) => {
      await each(['anon', 'bob'] as const, async (who) => {
        const r = await get(`/oauth2/callback${q}`, who, {
          accept: 'text/html',
          'sec-fetch-mode': 'navigate',
        });
        const v = verdict(`callback${q.slice(0, 80)}`, who, r);
        assert.ok(v.status >= 400 || v.status === 302, `callback${q.slice(0, 60)} → ${v.status}`);
        const html = String(r.headers['content-type']).includes('html');
        assert.ok(!html || !r.body.includes('<script>alert'), `callback${q.slice(0, 60)} reflected markup`);
      });
    });
  });

  it('provider error text is shown only with a valid state', async () => {
    const r = await get(
      `/oauth2/callback?error=access_denied&state=forged&error_description=${encodeURIComponent('Call +1-555-SCAM now')}`,
      'anon',
      { accept: 'text/html', 'sec-fetch-mode': 'navigate' },
    );
    verdict('callback error_description without state', 'anon', r);
    assert.ok(!r.body.includes('555-SCAM'), 'error_description shown without a valid state');
  });

  it("a replayed code or another browser's state does not log anyone in", async () => {
    const alice = new TestBrowser();
    const cb = await flowToCallback(alice, 'alice');
    const done = await alice.request(cb.href);
    sent++;
    verdict('callback (real)', 'anon', done);
    assert.equal(done.status, 302);
    await each([alice, new TestBrowser()], async (b) => {
      const replay = await b.request(cb.href);
      sent++;
      verdict('callback replayed', 'anon', replay);
      if (b !== alice)
        assert.ok(replay.status >= 400, `replayed callback in a fresh browser → ${replay.status}`);
    });
    const other = new TestBrowser();
    const cb2 = await flowToCallback(other, 'alice');
    const wrongIss = new URL(cb2);
    wrongIss.searchParams.set('iss', 'https://evil.example');
    const r = await other.request(wrongIss.href);
    sent++;
    verdict('callback with a foreign iss', 'anon', r);
    assert.ok(r.status >= 400, `callback with foreign iss → ${r.status}`);
  });

  it('a leaked state used from another browser cannot burn the flow', async () => {
    const victim = new TestBrowser();
    const cb = await flowToCallback(victim, 'bob');
    const attacker = new TestBrowser();
    const burn = new URL(cb);
    burn.searchParams.set('code', 'attacker-code');
    const r = await attacker.request(burn.href);
    sent++;
    verdict('callback with a leaked state from another browser', 'anon', r);
    assert.ok(r.status >= 400);
    const done = await victim.request(cb.href);
    sent++;
    verdict('victim completes the login', 'anon', done);
    assert.equal(done.status, 302, 'the victim can still complete the login');
    assert.equal(done.location, '/');
  });
});

describe('return URLs (rd) never leave the origin', () => {
  const evil = [
    '//evil.example',
    '///evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    '/%5cevil.example',
    '/%2f%2fevil.example',
    '/.//evil.example',
    '/./\\evil.example',
    'https://evil.example',
    'https:evil.example',
    'http:/\\evil.example',
    ' https://evil.example',
    '\thttps://evil.example',
    'javascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    `http://127.0.0.1:1@evil.example`,
    `http://evil.example#@127.0.0.1`,
    `http://127.0.0.1%2eevil.example`,
    'https://evil.example%2f%2e%2e',
    '//%0d%0aevil.example',
    '/%0d%0aLocation:%20https://evil.example',
    `https://${'a'.repeat(3000)}.example`,
  ];
  it(`${evil.length} hostile rd values: every hop stays on our origin or the IdP`, async () => {
    await each(evil, async (rd) => {
      const b = new TestBrowser();
      const cb = await flowToCallback(b, 'alice', rd);
      const done = await b.request(cb.href);
      sent++;
      verdict(`callback after rd=${rd.slice(0, 60)}`, 'anon', done);
      assert.equal(done.status, 302);
      assert.equal(new URL(done.location!, origin).origin, origin, `rd=${rd} → ${done.location}`);
    });
  });
});

describe('forward-auth: the described request gets the same rules (X-Original-URI, X-Forwarded-Uri)', () => {
  const describeReq = (uri: string, header = 'x-original-uri'): Record<string, string> => ({
    [header]: uri,
    'x-forwarded-method': 'GET',
    'x-forwarded-host': `127.0.0.1:${port}`,
    'x-forwarded-proto': 'http',
  });
  const spellings = [...FIXED_ADMIN.filter((p) => !p.includes('?')), ...caseFlips('/admin', 5, SEED + 3)];

  it('bob: no spelling of /admin is allowed at /oauth2/auth or /oauth2/forward-auth', async () => {
    await each(spellings, async (p) => {
      for (const [ep, h] of [
        ['/oauth2/auth', 'x-original-uri'],
        ['/oauth2/forward-auth', 'x-forwarded-uri'],
      ] as const) {
        const r = await get(ep, 'bob', describeReq(p, h));
        const v = verdict(`${ep} ${h}: ${p}`, 'bob', r);
        assert.ok(v.status === 403 || v.status === 400, `${ep} ${h}: ${p} → ${v.status}`);
      }
    });
  });

  it('refused spellings (#, \\, %5C, %25) → 400 at both endpoints', async () => {
    await each(REFUSED, async (p) => {
      for (const [ep, h] of [
        ['/oauth2/auth', 'x-original-uri'],
        ['/oauth2/forward-auth', 'x-forwarded-uri'],
      ] as const) {
        const r = await get(ep, 'alice', describeReq(p, h));
        assert.equal(verdict(`${ep} ${h}: ${p}`, 'alice', r).status, 400, `${ep} ${h}: ${p}`);
      }
    });
  });

  it('ambiguous or foreign descriptions: never an allow for bob, never an off-site redirect', async () => {
    const cases: Array<Record<string, string>> = [
      { ...describeReq('/x'), 'x-forwarded-uri': '/admin' },
      { ...describeReq('/admin'), 'x-forwarded-uri': '/x' },
      { ...describeReq('/admin'), 'x-forwarded-method': 'G E T' },
      { ...describeReq('/admin'), 'x-forwarded-host': 'evil.example' },
      { ...describeReq('http://127.0.0.1/admin') },
      { ...describeReq('admin') },
      { ...describeReq('/admin'), 'x-forwarded-proto': 'gopher' },
    ];
    await each(cases, async (c) => {
      const r = await get('/oauth2/forward-auth', 'bob', c);
      const v = verdict(`forward-auth ${JSON.stringify(c)}`, 'bob', r);
      assert.ok(v.status === 400 || v.status === 403, `forward-auth ${JSON.stringify(c)} → ${v.status}`);
    });
    // Anonymous navigation described with a foreign host: the login redirect still comes home.
    const nav = { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
    await each(['evil.example', `evil.example:${port}`, '127.0.0.1.evil.example'], async (host) => {
      const r = await get('/oauth2/forward-auth', 'anon', {
        ...describeReq('/x'),
        'x-forwarded-host': host,
        ...nav,
      });
      const v = verdict(`forward-auth anon host ${host}`, 'anon', r);
      assert.ok(v.status === 302 || v.status === 401, `forward-auth anon host ${host} → ${v.status}`);
    });
  });

  it('the answer carries our identity, never one the client sent', async () => {
    await each(
      SPOOF_NAMES.filter((n) => !n.includes('_')),
      async (name) => {
        await each(['/oauth2/auth', '/oauth2/forward-auth'], async (ep) => {
          const r = await get(ep, 'bob', { ...describeReq('/x'), [name]: `${MARK}-mallory` });
          assert.ok(r.status === 200 || r.status === 202, `${ep} with ${name} → ${r.status}`);
          for (const [k, v] of Object.entries(r.headers)) {
            assert.ok(!String(v).includes(MARK), `${ep} answered ${k}: ${String(v)}`);
          }
          assert.equal(r.headers['x-forwarded-user'], 'bob');
        });
      },
    );
  });
});

describe('raw HTTP: request lines, framing and smuggling', () => {
  it('odd request targets and methods', async () => {
    const host = `Host: 127.0.0.1:${port}\r\n`;
    const lines = [
      `GET http://127.0.0.1:${port}/admin HTTP/1.1\r\n${host}`,
      `GET http://evil.example/admin HTTP/1.1\r\n${host}`,
      `GET admin HTTP/1.1\r\n${host}`,
      `GET * HTTP/1.1\r\n${host}`,
      `OPTIONS * HTTP/1.1\r\n${host}`,
      `GET /admin HTTP/1.0\r\n`,
      `GET /admin HTTP/1.1\r\n`,
      `GET /admin HTTP/1.1\r\nHost: a\r\nHost: b\r\n`,
      `GET /admin HTTP/2.0\r\n${host}`,
      `GET /admin HTTP/1.1 extra\r\n${host}`,
      `GET\t/admin HTTP/1.1\r\n${host}`,
      `GET /admin\tHTTP/1.1\r\n${host}`,
      `GET /ad min HTTP/1.1\r\n${host}`,
      `GET /admin\u0000 HTTP/1.1\r\n${host}`,
      `get /admin HTTP/1.1\r\n${host}`,
      `ADMIN /admin HTTP/1.1\r\n${host}`,
      `CONNECT 127.0.0.1:${port} HTTP/1.1\r\n${host}`,
      `GET /${'a'.repeat(70_000)} HTTP/1.1\r\n${host}`,
      `GET /admin HTTP/1.1\r\n${host}X-Big: ${'b'.repeat(20_000)}\r\n`,
      `GET /admin HTTP/1.1\n${host.replace('\r\n', '\n')}`,
    ];
    await each(lines, async (l) => {
      await each(['bob', 'anon'] as const, async (who) => {
        const text = `${l}${cookieFor(who)}Accept: application/json\r\nConnection: close\r\n\r\n`;
        for (const r of await raw(text)) {
          const v = verdict(`raw ${JSON.stringify(l.slice(0, 60))}`, who, r, { allowReset: true });
          if (who === 'bob' && v.echo)
            assert.ok(!under(v.echo.url.toLowerCase(), '/admin'), `raw ${l.slice(0, 60)}`);
        }
      });
    });
  });

  it('Transfer-Encoding / Content-Length smuggling never smuggles a second request past the rules', async () => {
    const smuggled = `GET /admin HTTP/1.1\r\nHost: x\r\n${cookieFor('bob')}Connection: close\r\n\r\n`;
    const bodies = [
      `Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${smuggled}`,
      `Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      `Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${smuggled}`,
      `Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${smuggled}`,
      `Transfer-Encoding:  chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      `Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled}`,
      `Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      `Transfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n${smuggled}`,
      `Content-Length: 0\r\nContent-Length: 60\r\n\r\n${smuggled}`,
      `Content-Length: 0, 60\r\n\r\n${smuggled}`,
      `Content-Length: +0\r\n\r\n${smuggled}`,
      `Content-Length: -1\r\n\r\n${smuggled}`,
      `Transfer-Encoding: chunked\r\n\r\n1;ext\r\nx\r\n0\r\n\r\n${smuggled}`,
      `Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nx\r\n0\r\n\r\n${smuggled}`,
      `Transfer-Encoding: chunked\r\n\r\n0\n\n${smuggled}`,
    ];
    await each(bodies, async (b) => {
      await each(['bob', 'anon'] as const, async (who) => {
        const path = who === 'anon' ? '/public/up' : '/up';
        const text = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${cookieFor(who)}${b}`;
        for (const r of await raw(text)) {
          const v = verdict(`smuggle ${JSON.stringify(b.slice(0, 50))}`, who, r, { allowReset: true });
          if (v.echo)
            assert.ok(!under(v.echo.url.toLowerCase(), '/admin'), `smuggled /admin reached upstream`);
        }
      });
    });
  });

  it('every method is held to the rules (HEAD, OPTIONS preflights, WebDAV, unknown verbs)', async () => {
    const methods = [
      'HEAD',
      'OPTIONS',
      'POST',
      'PUT',
      'DELETE',
      'PATCH',
      'TRACE',
      'PROPFIND',
      'MKCOL',
      'FOO',
    ];
    await each(methods, async (m) => {
      for (const [who, path, want] of [
        ['bob', '/admin/x', [403]],
        ['anon', '/admin/x', [401]],
        ['anon', '/x', [401]],
      ] as const) {
        const extra =
          m === 'OPTIONS' ? 'Origin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\n' : '';
        const [r] = await raw(
          `${m} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: application/json\r\n${cookieFor(who)}${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`,
        );
        const v = verdict(`${m} ${path}`, who, r!, { allowReset: m === 'HEAD' });
        assert.ok(
          (want as readonly number[]).includes(v.status) || v.status === 400 || v.status === 405,
          `${who} ${m} ${path} → ${v.status}`,
        );
      }
    });
  });

  it('pipelined requests are each decided on their own (no identity carried over)', async () => {
    const h = `Host: 127.0.0.1:${port}\r\nAccept: application/json\r\n`;
    const text =
      `GET / HTTP/1.1\r\n${h}${cookieFor('bob')}\r\n` +
      `GET /admin HTTP/1.1\r\n${h}${cookieFor('bob')}\r\n` +
      `GET /x HTTP/1.1\r\n${h}\r\n` +
      `GET /Admin HTTP/1.1\r\n${h}X_Forwarded_Groups: admins\r\n${cookieFor('bob')}\r\n` +
      `GET /public/x HTTP/1.1\r\n${h}X-Forwarded-User: ${MARK}\r\nConnection: close\r\n\r\n`;
    const rs = await raw(text);
    assert.equal(rs.length, 5, `five answers, got ${rs.map((r) => r.status).join(',')}`);
    assert.equal(verdict('pipelined GET / (bob)', 'bob', rs[0]!).status, 200);
    assert.equal(verdict('pipelined GET /admin (bob)', 'bob', rs[1]!).status, 403);
    assert.equal(verdict('pipelined GET /x (anon)', 'anon', rs[2]!).status, 401);
    assert.equal(verdict('pipelined GET /Admin (bob)', 'bob', rs[3]!).status, 403);
    assert.equal(verdict('pipelined GET /public/x (anon)', 'anon', rs[4]!).status, 200);
  });
});

describe('Expect: 100-continue uploads reach the upstream', () => {
  it('a 1 MiB upload with Expect: 100-continue is answered by the upstream, byte count intact', async () => {
    const size = 1024 * 1024 + 1;
    const head =
      `PUT /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${cookieFor('bob')}Content-Length: ${size}\r\n` +
      'Expect: 100-continue\r\nConnection: close\r\n\r\n';
    const [r] = await raw(Buffer.concat([Buffer.from(head), Buffer.alloc(size, 0x61)]));
    const v = verdict('PUT with Expect: 100-continue', 'bob', r!);
    assert.equal(v.status, 200);
    assert.equal(v.echo?.bodyBytes, size);
  });
});

describe('metrics are not served on the public port', () => {
  it('no spelling of /oauth2/metrics answers metrics, even from loopback', async () => {
    const spellings = [
      '/oauth2/metrics',
      '/oauth2/metrics/',
      '/oauth2//metrics',
      '//oauth2/metrics',
      '/oauth2/./metrics',
      '/x/../oauth2/metrics',
      '/oauth2/%6detrics',
      '/%6fauth2/metrics',
      '/OAUTH2/metrics',
      '/oauth2/Metrics',
      '/oauth2/metrics;x',
      '/oauth2/metrics?x',
      '/oauth2/\\metrics',
      '/oauth2/%5cmetrics',
      '/oauth2%2fmetrics',
    ];
    await each(spellings, async (p) => {
      await each(['anon', 'bob'] as const, async (who) => {
        const r = await rawGet(p, who);
        verdict(`GET ${p}`, who, r);
        assert.ok(!r.body.includes('# HELP') && !r.body.includes('# TYPE'), `${who} GET ${p} served metrics`);
        const upstream = r.status === 200 && echoOf(r.body) !== undefined;
        assert.ok(upstream || [400, 401, 403, 404].includes(r.status), `${who} GET ${p} → ${r.status}`);
      });
    });
  });
});

describe('logout is CSRF-safe', () => {
  it('a cross-site GET does not end the session; a same-origin one does', async () => {
    let b = new TestBrowser();
    const fresh = async () => {
      b = new TestBrowser();
      await login(s, b, { user: 'bob' });
      sent += 4;
    };
    await fresh();
    const alive = async () => (await b.request(`${origin}/`, { kind: 'api' })).status === 200;
    const crossSite: Array<Record<string, string>> = [
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' },
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', referer: 'https://evil.example/' },
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate' },
      { origin: 'https://evil.example' },
      { referer: 'https://evil.example/page' },
      { origin: 'null' },
      { referer: `${origin}.evil.example/` },
    ];
    await each(crossSite, async (h) => {
      const r = await b.request(`${origin}/oauth2/logout`, { headers: h });
      sent++;
      verdict(`GET /oauth2/logout ${JSON.stringify(h)}`, 'bob', r);
      sent++;
      if (!(await alive())) {
        await fresh();
        assert.fail(`GET /oauth2/logout with ${JSON.stringify(h)} ended the session`);
      }
    });
    const r = await b.request(`${origin}/oauth2/logout`, { headers: { 'sec-fetch-site': 'same-origin' } });
    sent++;
    verdict('GET /oauth2/logout same-origin', 'bob', r);
    assert.equal(await alive(), false, 'a same-origin logout ends the session');
  });
});

describe("Gatehouse's own pages cannot be framed or sniffed", () => {
  it('error pages send CSP frame-ancestors, nosniff and no-referrer', async () => {
    const nav = { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
    for (const [p, who] of [
      ['/admin', 'bob'],
      ['/oauth2/callback?state=x&code=y', 'anon'],
      ['/oauth2/signed-out', 'anon'],
    ] as const) {
      const r = await get(p, who, nav);
      verdict(`page ${p}`, who, r);
      assert.match(String(r.headers['content-security-policy']), /frame-ancestors 'none'/, `${p} CSP`);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', `${p} nosniff`);
      assert.equal(r.headers['referrer-policy'], 'no-referrer', `${p} referrer-policy`);
    }
  });
});

describe('oversized bodies get a 413, not a reset', () => {
  it('a 256 KiB back-channel logout body → 413', async () => {
    const size = 256 * 1024;
    const head =
      `POST /oauth2/backchannel-logout HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`;
    const [r] = await raw(Buffer.concat([Buffer.from(head), Buffer.alloc(size, 0x61)]));
    verdict('POST /oauth2/backchannel-logout 256 KiB', 'anon', r!, { allowReset: true });
    assert.equal(r!.status, 413);
  });

  it('forged back-channel logout tokens are refused, never 5xx', async () => {
    for (const body of [
      '',
      'logout_token=',
      'logout_token=a.b.c',
      `logout_token=${'x'.repeat(60_000)}`,
      'x=%zz',
    ]) {
      sent++;
      const res = await fetch(`${origin}/oauth2/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      const r = { status: res.status, headers: {}, body: await res.text() };
      assert.ok(verdict(`backchannel ${body.slice(0, 30)}`, 'anon', r).status >= 400);
    }
  });
});

describe('after the barrage', () => {
  it('bob and alice still have their own sessions, and the suite sent at least 150 requests', async (t) => {
    const bob = verdict('GET / (bob, final)', 'bob', await rawGet('/', 'bob'));
    assert.equal(bob.status, 200);
    assert.equal(bob.echo?.headers['x-forwarded-user'], 'bob');
    assert.equal(verdict('GET /admin (bob, final)', 'bob', await rawGet('/admin', 'bob')).status, 403);
    const alice = verdict('GET /admin (alice, final)', 'alice', await rawGet('/admin', 'alice'));
    assert.equal(alice.status, 200);
    assert.equal(alice.echo?.headers['x-forwarded-user'], 'alice');
    assert.ok(sent >= 150, `only ${sent} requests`);
    t.diagnostic(`${sent} hostile requests sent`);
    // Nothing secret was logged along the way: no session cookie, no JWT, no authorization code.
    const jwt = /eyJ[\w-]{8,}\.eyJ[\w-]{8,}\./;
    for (const line of s.logs) {
      const text = JSON.stringify(line);
      assert.ok(!text.includes(bobSession), `a log line carries bob's session cookie: ${text.slice(0, 200)}`);
      assert.ok(!jwt.test(text), `a log line carries a JWT: ${text.slice(0, 300)}`);
    }
  });
});
