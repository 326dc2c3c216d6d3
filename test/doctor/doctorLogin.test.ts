// `gatehouse doctor --login`: the real CLI prints a URL, a browser (TestBrowser) follows it through
// the dev IdP (auto-login: no human), the callback lands on the doctor's own loopback listener,
// and the report says what came back — never a token.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { TestBrowser } from '../helpers/browser.js';
import { spawnCli } from '../helpers/cli.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { freePort } from '../helpers/ports.js';

const CLIENT_SECRET = `doctor-login-${randomBytes(12).toString('hex')}`;
const SESSION_SECRET = randomBytes(48).toString('base64');

interface LoginRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  lines: string[];
  /** The URL the doctor printed, when it printed one. */
  url: string | undefined;
}

/**
 * Runs `gatehouse doctor --login …`; once it prints the URL, `open` (unless undefined: nobody
 * opens it) follows it as a browser would. Resolves when the doctor has exited.
 */
async function doctorLogin(
  args: string[],
  open: ((url: string) => Promise<unknown>) | undefined,
): Promise<LoginRun> {
  const started = Date.now();
  const child = spawnCli(['doctor', '--login', ...args]);
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  let url: string | undefined;
  let opened: Promise<unknown> = Promise.resolve();
  // The URL is on stdout, or on stderr with --json (stdout is then the one JSON document).
  const lookForUrl = (text: string) => {
    const m = /open this URL in a browser[^\n]*\n(\S+)\n/.exec(text);
    if (m && url === undefined) {
      url = m[1]!;
      if (open) opened = open(url);
    }
  };
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    lookForUrl(stderr);
  });
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    lookForUrl(stdout);
  });
  const [code] = (await once(child, 'exit')) as [number];
  await opened;
  return { code, stdout, stderr, ms: Date.now() - started, lines: stdout.split('\n').filter(Boolean), url };
}

function lineOf(r: LoginRun, check: string): string {
  const line = r.lines.find((l) => new RegExp(`^(PASS|WARN|FAIL) ${check.replace(/\./g, '\\.')}: `).test(l));
  assert.ok(line, `no ${check} line in:\n${r.stdout}\n${r.stderr}`);
  return line;
}

/** Follows the printed URL: authorize at the dev IdP, auto-login, redirect to the doctor's callback. */
async function browse(url: string): Promise<void> {
  const hops = await new TestBrowser().follow(url);
  const last = hops.at(-1)!;
  assert.equal(last.status, 200, `the callback page: ${last.status} ${last.body.slice(0, 200)}`);
  assert.match(last.body, /Gatehouse doctor received the provider's answer/);
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

describe('gatehouse doctor --login', () => {
  const idp = useTestIdp({ clientSecret: CLIENT_SECRET });
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-doctor-login-'));
  let n = 0;
  const issued: string[] = [];

  function configFile(publicUrl: string, provider: Record<string, unknown> = {}): string {
    const file = join(dir, `config-${++n}.yaml`);
    writeFileSync(
      file,
      stringify({
        publicUrl,
        upstream: 'http://127.0.0.1:9',
        shutdownTimeoutSeconds: 30,
        provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: CLIENT_SECRET, ...provider },
        session: { secret: SESSION_SECRET, store: 'memory' },
        authorization: { allowedEmailDomains: ['example.com'] },
      }),
    );
    return file;
  }

  /** Every token the dev IdP issued during `fn`, checked absent from what the doctor printed. */
  async function noTokenPrinted(r: LoginRun): Promise<void> {
    assert.ok(issued.length > 0, 'the dev IdP issued tokens');
    for (const t of issued) {
      assert.ok(!r.stdout.includes(t) && !r.stderr.includes(t), 'no token value in stdout or stderr');
    }
    assert.ok(!r.stdout.includes(CLIENT_SECRET) && !r.stderr.includes(CLIENT_SECRET), 'no client secret');
  }

  function recordTokens(): () => void {
    issued.length = 0;
    idp.reset();
    return idp.onTokens((t) => {
      for (const v of [t.accessToken, t.refreshToken, t.idToken]) if (v) issued.push(v);
    });
  }

  it('a good run on the configured callback (gateway stopped): login, refresh token, one refresh, rotation, lifetimes; exit 0', async () => {
    idp.setProfiles([]);
    const port = await freePort();
    const stop = recordTokens();
    const r = await doctorLogin(['--config', configFile(`http://127.0.0.1:${port}`)], browse);
    stop();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(r.url?.startsWith(`${idp.issuer}/`), r.stdout);
    const auth = new URL(r.url!);
    assert.equal(auth.searchParams.get('redirect_uri'), `http://127.0.0.1:${port}/oauth2/callback`);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(auth.searchParams.get('scope'), 'openid email profile offline_access');
    assert.ok(auth.searchParams.get('state') && auth.searchParams.get('nonce'));
    assert.match(
      lineOf(r, 'login.callback'),
      /^PASS .*127\.0\.0\.1:\d+\/oauth2\/callback .*gateway is stopped/,
    );
    assert.match(lineOf(r, 'login'), /^PASS login: signed in/);
    assert.match(lineOf(r, 'login.refresh-token'), /^PASS .*issued a refresh token/);
    assert.match(lineOf(r, 'login.access-token'), /^PASS .*lifetime 300 s \(expires_in\)/);
    assert.match(lineOf(r, 'login.id-token'), /^PASS .*ID token lifetime 300 s/);
    assert.match(lineOf(r, 'login.refresh-grant'), /^PASS .*refresh grant succeeded/);
    assert.match(lineOf(r, 'login.rotation'), /^PASS .*the refresh token rotated/);
    assert.match(lineOf(r, 'login.refresh-lifetime'), /^PASS .*does not say .*no refresh_expires_in/);
    assert.equal(idp.stats().requests.token, 2, 'one code exchange, one refresh grant');
    assert.ok(await refused(port), 'the callback listener is closed once the doctor is done');
    await noTokenPrinted(r);
  });

  it('--json: stdout is one JSON document with the login checks; the URL goes to stderr', async () => {
    idp.setProfiles([]);
    const port = await freePort();
    const stop = recordTokens();
    const r = await doctorLogin(['--config', configFile(`http://127.0.0.1:${port}`), '--json'], browse);
    stop();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /open this URL in a browser/);
    const doc = JSON.parse(r.stdout) as { checks: Array<{ status: string; check: string }> };
    const login = doc.checks.filter((c) => c.check.startsWith('login'));
    assert.deepEqual(
      login.map((c) => `${c.status} ${c.check}`),
      [
        'PASS login.callback',
        'PASS login',
        'PASS login.refresh-token',
        'PASS login.access-token',
        'PASS login.id-token',
        'PASS login.refresh-grant',
        'PASS login.rotation',
        'PASS login.refresh-lifetime',
      ],
    );
    await noTokenPrinted(r);
  });

  it('keycloak profile, on --login-callback: the refresh token lifetime it states (refresh_expires_in)', async () => {
    idp.setProfiles(['keycloak']);
    const port = await freePort();
    const stop = recordTokens();
    const r = await doctorLogin(
      [
        '--config',
        configFile('https://gate.example.com'),
        '--login-callback',
        `http://127.0.0.1:${port}/doctor/callback`,
      ],
      browse,
    );
    stop();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(
      new URL(r.url!).searchParams.get('redirect_uri'),
      `http://127.0.0.1:${port}/doctor/callback`,
    );
    assert.match(lineOf(r, 'login.callback'), /^PASS .*from --login-callback/);
    assert.match(
      lineOf(r, 'login.refresh-lifetime'),
      /^PASS .*refresh token lifetime 86400 s .*refresh_expires_in/,
    );
    await noTokenPrinted(r);
  });

  it('no-refresh-token: FAIL login.refresh-token with the preset’s hint, no refresh grant; exit 1', async () => {
    idp.setProfiles(['no-refresh-token']);
    const port = await freePort();
    const stop = recordTokens();
    const r = await doctorLogin(['--config', configFile(`http://127.0.0.1:${port}`)], browse);
    stop();
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(lineOf(r, 'login'), /^PASS login: signed in/);
    const line = lineOf(r, 'login.refresh-token');
    assert.match(line, /^FAIL .*no refresh token came back/);
    assert.match(line, /— fix: request the offline_access scope/);
    assert.ok(!r.lines.some((l) => / login\.refresh-grant: /.test(l)), 'nothing to refresh with');
    assert.equal(idp.stats().requests.token, 1);
    await noTokenPrinted(r);
  });

  it('google profile: the google preset gets a refresh token; a prompt that drops consent gets none on a repeat login (FAIL with Google’s hint); the generic preset asks for none', async () => {
    idp.setProfiles(['google']);
    const google = await doctorLogin(
      ['--config', configFile(`http://127.0.0.1:${await freePort()}`, { preset: 'google' })],
      browse,
    );
    assert.equal(google.code, 0, google.stdout + google.stderr);
    const auth = new URL(google.url!).searchParams;
    assert.equal(auth.get('access_type'), 'offline');
    assert.equal(auth.get('prompt'), 'consent');
    assert.match(lineOf(google, 'login.refresh-token'), /^PASS /);

    const noConsent = await doctorLogin(
      [
        '--config',
        configFile(`http://127.0.0.1:${await freePort()}`, {
          preset: 'google',
          authorizationParams: { prompt: 'select_account' },
        }),
      ],
      browse,
    );
    assert.equal(noConsent.code, 1, noConsent.stdout + noConsent.stderr);
    assert.match(
      lineOf(noConsent, 'login.refresh-token'),
      /^FAIL .*no refresh token came back.*— fix: Google issues refresh tokens only with access_type=offline and, on a repeat login, prompt=consent/,
    );

    const generic = await doctorLogin(
      ['--config', configFile(`http://127.0.0.1:${await freePort()}`, { preset: 'generic' })],
      browse,
    );
    assert.equal(generic.code, 1);
    assert.match(
      lineOf(generic, 'login.refresh-token'),
      /^FAIL .*Gatehouse asked for none.*— fix: see refresh\.offline-access \(for Google: provider\.preset: google\)/,
    );
  });

  it('refresh-invalid-grant: FAIL login.refresh-grant with invalid_grant; exit 1', async () => {
    idp.setProfiles(['refresh-invalid-grant']);
    const port = await freePort();
    const stop = recordTokens();
    const r = await doctorLogin(['--config', configFile(`http://127.0.0.1:${port}`)], browse);
    stop();
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(lineOf(r, 'login.refresh-token'), /^PASS /);
    assert.match(
      lineOf(r, 'login.refresh-grant'),
      /^FAIL login\.refresh-grant: the refresh grant failed: invalid_grant/,
    );
    await noTokenPrinted(r);
  });

  it('refresh-reuses-token: the refresh grant passes and no rotation is reported', async () => {
    idp.setProfiles(['refresh-reuses-token']);
    const port = await freePort();
    const stop = recordTokens();
    const r = await doctorLogin(['--config', configFile(`http://127.0.0.1:${port}`)], browse);
    stop();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(lineOf(r, 'login.refresh-grant'), /^PASS /);
    assert.match(lineOf(r, 'login.rotation'), /^PASS .*did not rotate/);
    await noTokenPrinted(r);
  });

  it('authorize-error: the provider sends error=access_denied to the callback: FAIL login naming it; exit 1', async () => {
    idp.setProfiles(['authorize-error']);
    const port = await freePort();
    const r = await doctorLogin(['--config', configFile(`http://127.0.0.1:${port}`)], browse);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(lineOf(r, 'login'), /^FAIL login: the login failed: access_denied/);
    assert.ok(!r.lines.some((l) => / login\.refresh-token: /.test(l)));
  });

  it('nobody opens the URL: FAIL login within --login-timeout, exit 1, the listener closed', async () => {
    idp.setProfiles([]);
    const port = await freePort();
    const r = await doctorLogin(
      ['--config', configFile(`http://127.0.0.1:${port}`), '--login-timeout', '1'],
      undefined,
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(r.url, 'the URL was printed');
    assert.match(
      lineOf(r, 'login'),
      /^FAIL login: nobody completed the login within 1 s .*— fix: open the printed URL/,
    );
    assert.ok(r.ms < 15_000, `bounded: ${r.ms} ms`);
    assert.ok(await refused(port));
  });

  it('the configured callback port taken (the gateway runs): the documented callback, said so', async () => {
    idp.setProfiles([]);
    const port = await freePort();
    const { createServer } = await import('node:net');
    const busy = createServer().listen(port, '127.0.0.1');
    await once(busy, 'listening');
    try {
      const r = await doctorLogin(
        ['--config', configFile(`http://127.0.0.1:${port}`), '--login-timeout', '1'],
        undefined,
      );
      const line = lineOf(r, 'login.callback');
      if (r.url === undefined) {
        // This machine has 4181 taken as well: then that is what the doctor says.
        assert.match(line, /^FAIL .*127\.0\.0\.1:4181\/oauth2\/callback \(port \d+ of publicUrl is in use/);
      } else {
        assert.equal(
          new URL(r.url).searchParams.get('redirect_uri'),
          'http://127.0.0.1:4181/oauth2/callback',
        );
        assert.match(line, /^PASS .*port \d+ of publicUrl is in use/);
      }
    } finally {
      busy.close();
    }
  });

  it('a --login-callback off loopback is bad usage (exit 2)', async () => {
    const r = await doctorLogin(
      [
        '--config',
        configFile('http://127.0.0.1:4180'),
        '--login-callback',
        'http://gate.example.com:4181/cb',
      ],
      undefined,
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--login-callback must be http:\/\/127\.0\.0\.1:PORT/);
  });
});
