import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CliIo, exposureWarning, parseDevIdpArgs, runDevIdpCli } from '../../src/devidp/cli.js';
import { PROFILE_INFO } from '../../src/devidp/profiles.js';
import { runCli } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `gatehouse dev-idp ARGS` the way src/cli.ts does, in a child process. */
function spawnCli(args: string[]) {
  const script = `import('./src/devidp/cli.ts').then((m) => m.runDevIdpCli(${JSON.stringify(args)}))`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, stderr: () => stderr };
}

/** In-process IO: captures output and lets the test deliver the "signal". */
function fakeIo() {
  let stop: (signal: string) => void = () => {};
  let started: (line: string) => void = () => {};
  const io = {
    out: '',
    err: '',
    exitCode: undefined as number | undefined,
    startLine: new Promise<string>((resolve) => {
      started = resolve;
    }),
    signal: (name: string) => stop(name),
  };
  const cli: CliIo = {
    out: (text) => {
      io.out += text;
      if (text.startsWith('dev-idp listening')) started(text);
    },
    err: (text) => {
      io.err += text;
    },
    setExitCode: (code) => {
      io.exitCode = code;
    },
    waitForStop: () =>
      new Promise((resolve) => {
        stop = resolve;
      }),
  };
  return { io, cli };
}

describe('dev-idp CLI', { concurrency: true }, () => {
  it('as a process: one start line, serves, exits 0 on SIGTERM', async () => {
    const run = spawnCli(['--port', '0', '--profile', 'short-expiry,google', '--profile', 'github']);
    const [first] = (await once(createInterface({ input: run.child.stdout }), 'line')) as [string];
    const m =
      /^dev-idp listening on (http:\/\/127\.0\.0\.1:\d+) \(profiles: short-expiry, google, github\)$/.exec(
        first,
      );
    assert.ok(m, `unexpected start line: ${first}`);
    const doc = (await (await fetch(`${m[1]}/.well-known/openid-configuration`)).json()) as {
      issuer: string;
    };
    assert.equal(doc.issuer, m[1]);
    run.child.kill('SIGTERM');
    const [code] = await run.exited;
    assert.equal(code, 0, run.stderr());
  });

  it('as a process: a bad flag exits 2 naming it', async () => {
    const run = spawnCli(['--bogus']);
    const [code] = await run.exited;
    assert.equal(code, 2);
    assert.match(run.stderr(), /--bogus/);
  });

  it('says (profiles: none) without profiles and stops when signalled', async () => {
    const { io, cli } = fakeIo();
    const done = runDevIdpCli(['--port', '0', '--auto-login', 'bob'], cli);
    const line = await io.startLine;
    const m = /^dev-idp listening on (http:\/\/127\.0\.0\.1:\d+) \(profiles: none\)\n$/.exec(line);
    assert.ok(m, line);
    assert.equal((await fetch(`${m[1]}/jwks`)).status, 200);
    io.signal('SIGINT');
    await done;
    assert.equal(io.exitCode, undefined);
    assert.match(io.err, /SIGINT received/);
    await assert.rejects(fetch(`${m[1]}/jwks`), 'the server must be closed');
  });

  it('warns on stderr when it listens off loopback with the default client secret', async () => {
    const { io, cli } = fakeIo();
    const done = runDevIdpCli(['--host', '0.0.0.0', '--port', '0', '--quiet'], cli);
    const line = await io.startLine;
    assert.match(io.err, /WARNING: listening on 0\.0\.0\.0, which is not a loopback address/);
    assert.match(io.err, /default client secret "gatehouse-dev-secret"/);
    assert.match(io.err, /--client-secret/);
    assert.doesNotMatch(line, /WARNING/, 'stdout keeps the one start line scripts wait for');
    io.signal('SIGTERM');
    await done;
  });

  it('no warning on loopback, or with a secret of your own', () => {
    assert.equal(exposureWarning({}), undefined);
    for (const host of ['127.0.0.1', '127.5.0.1', '::1', '[::1]', 'localhost']) {
      assert.equal(exposureWarning({ host }), undefined, host);
    }
    assert.equal(exposureWarning({ host: '0.0.0.0', clientSecret: 'a-secret-of-my-own' }), undefined);
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'idp.example.com']) {
      assert.match(exposureWarning({ host }) ?? '', /WARNING/, host);
      assert.match(exposureWarning({ host, clientSecret: 'gatehouse-dev-secret' }) ?? '', /WARNING/, host);
    }
  });

  it('exits 2 naming the flag on bad values', async () => {
    const cases: [string[], string][] = [
      [['--port', 'abc'], '--port'],
      [['--profile', 'nope'], '--profile'],
      [['--auto-login', 'mallory'], '--auto-login'],
      [['--access-token-ttl', '0'], '--access-token-ttl'],
      [['--users', '/nonexistent/users.json'], '--users'],
      [['--redirect-uri', 'not a url'], '--redirect-uri'],
      [['--port', '0', 'positional'], 'positional'],
    ];
    for (const [args, flag] of cases) {
      const { io, cli } = fakeIo();
      await runDevIdpCli(args, cli);
      assert.equal(io.exitCode, 2, `${args.join(' ')}: ${io.err}`);
      assert.ok(io.err.includes(flag), io.err);
      assert.equal(io.out, '');
    }
  });

  it('--help prints usage with every profile', async () => {
    const { io, cli } = fakeIo();
    await runDevIdpCli(['--help'], cli);
    assert.match(io.out, /--auto-login USER/);
    assert.match(io.out, /azure-group-overage/);
    assert.equal(io.exitCode, undefined);
  });
});

describe('parseDevIdpArgs', () => {
  it('maps every flag; --profile is repeatable and comma-separated', () => {
    const parsed = parseDevIdpArgs([
      '--host',
      '::1',
      '--port',
      '0',
      '--profile',
      'google, short-expiry',
      '--profile',
      'github',
      '--access-token-ttl',
      '5',
      '--id-token-ttl',
      '6',
      '--refresh-token-ttl',
      '7',
      '--auto-login',
      'bob',
      '--users',
      'u.json',
      '--client-id',
      'c',
      '--client-secret',
      's',
      '--redirect-uri',
      'http://localhost/a',
      '--redirect-uri',
      'http://localhost/b',
      '--backchannel-logout-uri',
      'http://localhost/bc',
      '--frontchannel-logout-uri',
      'http://localhost/fc',
      '--device-code-ttl',
      '120',
      '--device-interval',
      '2',
      '--token-delay-ms',
      '0',
      '--registration-token',
      'T0k3n',
    ]);
    assert.ok(!parsed.help);
    assert.deepEqual(parsed.options, {
      host: '::1',
      port: 0,
      profiles: ['google', 'short-expiry', 'github'],
      accessTokenTtl: 5,
      idTokenTtl: 6,
      refreshTokenTtl: 7,
      autoLogin: 'bob',
      users: 'u.json',
      clientId: 'c',
      clientSecret: 's',
      redirectUris: ['http://localhost/a', 'http://localhost/b'],
      postLogoutRedirectUris: undefined,
      backchannelLogoutUri: 'http://localhost/bc',
      frontchannelLogoutUri: 'http://localhost/fc',
      tokenDelayMs: 0,
      deviceCodeTtl: 120,
      deviceInterval: 2,
      audience: undefined,
      clients: undefined,
      clientsFile: undefined,
      registrationToken: 'T0k3n',
      quiet: undefined,
    });
    assert.deepEqual(parseDevIdpArgs(['--help']), { help: true });
  });

  it('rejects out-of-range numbers', () => {
    assert.throws(() => parseDevIdpArgs(['--port', '70000']), /--port/);
    assert.throws(() => parseDevIdpArgs(['--token-delay-ms', '1.5']), /--token-delay-ms/);
  });
});

describe('gatehouse dev-idp --list-profiles', () => {
  it('prints name<TAB>kind<TAB>summary for every profile, nothing else, exit 0', async () => {
    const run = await runCli(['dev-idp', '--list-profiles', '--port', '0']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.ok(run.stdout.endsWith('\n'));
    const lines = run.stdout.slice(0, -1).split('\n');
    assert.ok(lines.length >= 45, `only ${lines.length} profiles`);
    assert.deepEqual(
      lines.map((l) => l.split('\t')),
      PROFILE_INFO.map((p) => [p.name, p.kind, p.summary]),
    );
    for (const kind of ['claims', 'refresh', 'failure', 'provider']) {
      assert.ok(
        lines.some((l) => l.split('\t')[1] === kind),
        `no ${kind} profile listed`,
      );
    }
  });
});
