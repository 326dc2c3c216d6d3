import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tracingChannel } from 'node:diagnostics_channel';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { createLogger } from '../../src/util/log.js';
import { BatchedLines } from '../../src/util/logLines.js';
import {
  type RequestLineFields,
  writeRequestLine,
  writesOwnRequestLines,
} from '../../src/util/requestLogLine.js';

function collecting(): { lines: string[]; sink: Writable } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, sink };
}

describe('log censoring', () => {
  test('secret fields are written as [redacted], the caller’s object is left alone', () => {
    const { lines, sink } = collecting();
    const log = createLogger('info', sink);
    const headers = { cookie: 'gatehouse=SESSION', authorization: 'Bearer HEADER', accept: '*/*' };
    const tokens = { access_token: 'AT', refresh_token: 'RT', id_token: 'IT', scope: 'openid' };
    const obj = {
      headers,
      req: { headers: { cookie: 'c=REQCOOKIE', host: 'h' }, url: '/x' },
      tokens,
      provider: { clientSecret: 'CS', secret: 'S2', initialAccessToken: 'IAT', issuer: 'https://idp' },
      camel: { accessToken: 'AT2', refreshToken: 'RT2', idToken: 'IT2' },
      user: 'alice',
    };
    log.info(obj, 'with secrets');
    const line = JSON.parse(lines.join(''));
    for (const secret of ['SESSION', 'HEADER', 'REQCOOKIE', '"AT', 'RT', 'IT', 'CS', 'S2', 'IAT']) {
      assert.ok(!lines[0]!.includes(secret), `${secret} must not be logged: ${lines[0]}`);
    }
    assert.equal(line.headers.cookie, '[redacted]');
    assert.equal(line.headers.authorization, '[redacted]');
    assert.equal(line.headers.accept, '*/*');
    assert.equal(line.req.headers.cookie, '[redacted]');
    assert.equal(line.req.headers.host, 'h');
    assert.equal(line.tokens.access_token, '[redacted]');
    assert.equal(line.tokens.scope, 'openid');
    assert.equal(line.provider.issuer, 'https://idp');
    assert.equal(line.camel.idToken, '[redacted]');
    assert.equal(line.user, 'alice');
    // Censoring copies: the object the caller still holds is not changed.
    assert.equal(headers.cookie, 'gatehouse=SESSION');
    assert.equal(tokens.access_token, 'AT');
    assert.equal(obj.req.headers.cookie, 'c=REQCOOKIE');
  });

  test('a line of plain fields is written as given', () => {
    const { lines, sink } = collecting();
    createLogger('info', sink).info({ reqId: 'r1', status: 200, user: 'bob', ms: 1.5 }, 'request');
    const line = JSON.parse(lines[0]!);
    assert.deepEqual(
      { reqId: line.reqId, status: line.status, user: line.user, ms: line.ms, msg: line.msg },
      { reqId: 'r1', status: 200, user: 'bob', ms: 1.5, msg: 'request' },
    );
  });
});

describe('BatchedLines', () => {
  test('the lines of one event-loop turn are written together at its end, in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-loglines-'));
    const file = join(dir, 'out.log');
    const fd = openSync(file, 'w');
    try {
      const log = createLogger('info', new BatchedLines(fd) as never);
      for (let i = 0; i < 500; i++) log.info({ i }, 'request');
      // Nothing written yet: one batch at the end of the turn, not 500 writes.
      assert.equal(readFileSync(file, 'utf8'), '');
      await new Promise((r) => setImmediate(r));
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      assert.equal(lines.length, 500);
      assert.deepEqual(
        lines.map((l) => JSON.parse(l).i),
        Array.from({ length: 500 }, (_, i) => i),
      );
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a process that exits right after logging (process.exit) loses no line on stdout', () => {
    const logModule = new URL('../../src/util/log.ts', import.meta.url).href;
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `const { createLogger } = await import(${JSON.stringify(logModule)});
         const log = createLogger('info');
         for (let i = 0; i < 3; i++) log.info({ i }, 'line');
         log.error('exiting');
         process.exit(3);`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 3, r.stderr);
    const lines = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['line', 'line', 'line', 'exiting'],
    );
  });
});

describe('the request line (writeRequestLine)', () => {
  const fields = (over: Partial<RequestLineFields> = {}): RequestLineFields => ({
    reqId: 'req-1',
    method: 'GET',
    path: '/api/"quoted"\\back\u0007bell/é/😀/\ud800',
    status: 200,
    user: 'ali"ce\n',
    decision: 'session',
    ms: 1.25,
    ...over,
  });
  /** The line pino itself writes for the same fields, with the time taken out. */
  const withoutTime = (line: string) => line.replace(/"time":\d+/, '"time":0');

  test('is byte for byte what logger.info writes, for the root logger and a child (server.workers)', () => {
    const { lines, sink } = collecting();
    const root = createLogger('info', sink);
    const child = root.child({ worker: 3 });
    for (const logger of [root, child]) {
      for (const f of [
        fields(),
        fields({ user: undefined, decision: undefined, method: undefined, status: 502 }),
      ]) {
        lines.length = 0;
        writeRequestLine(logger, f);
        logger.info({ ...f }, 'request');
        assert.equal(lines.length, 2);
        assert.equal(withoutTime(lines[0]!), withoutTime(lines[1]!));
      }
    }
    lines.length = 0;
    writeRequestLine(child, fields());
    const parsed = JSON.parse(lines[0]!);
    assert.equal(parsed.worker, 3);
    assert.equal(parsed.path, fields().path);
    assert.equal(parsed.user, 'ali"ce\n');
    assert.equal(parsed.msg, 'request');
  });

  test('Gatehouse’s own loggers (and their children) take the short path; an application’s own does not', () => {
    const { sink } = collecting();
    const root = createLogger('info', sink);
    assert.equal(writesOwnRequestLines(root), true);
    assert.equal(writesOwnRequestLines(root.child({ worker: 1 })), true);
    assert.equal(writesOwnRequestLines(pino(sink)), false);
  });

  test('follows the level: nothing below info, and a reload that lowers the level brings the line back', () => {
    const { lines, sink } = collecting();
    const logger = createLogger('warn', sink);
    writeRequestLine(logger, fields());
    assert.equal(lines.length, 0);
    logger.level = 'info';
    writeRequestLine(logger, fields());
    assert.equal(lines.length, 1);
  });

  test('strings are escaped as pino escapes them (a lone surrogate in a short string, a long one, control characters)', () => {
    const { lines, sink } = collecting();
    const logger = createLogger('info', sink);
    for (const user of ['bob\ud800', 'a"b\\c', 'x'.repeat(101), 'tab\there', '']) {
      lines.length = 0;
      writeRequestLine(logger, fields({ user }));
      logger.info({ ...fields({ user }) }, 'request');
      assert.equal(withoutTime(lines[0]!), withoutTime(lines[1]!), JSON.stringify(user));
    }
  });

  test('an application’s own logger keeps its own format: value-dependent serializers, logMethod hooks, mixins', () => {
    const { lines, sink } = collecting();
    const masking = pino({ serializers: { user: (u: string) => u.replace(/@.*/, '@***') } }, sink);
    writeRequestLine(masking, fields({ user: 'bob@corp.example' }));
    assert.equal(JSON.parse(lines[0]!).user, 'bob@***');
    lines.length = 0;
    const hooked = pino(
      {
        hooks: {
          logMethod(args, method) {
            args[0] = { ...(args[0] as object), extra: 1 };
            return method.apply(this, args);
          },
        },
      },
      sink,
    );
    writeRequestLine(hooked, fields());
    assert.equal(JSON.parse(lines[0]!).extra, 1);
    lines.length = 0;
    const mixed = pino({ mixin: () => ({ app: 'mine' }) }, sink);
    writeRequestLine(mixed, fields({ path: '/x' }));
    const parsed = JSON.parse(lines[0]!);
    assert.equal(parsed.app, 'mine');
    assert.equal(parsed.msg, 'request');
  });

  test('a subscriber to pino’s pino_asJson diagnostics channel (an APM agent) sees every request line', () => {
    const { lines, sink } = collecting();
    const logger = createLogger('info', sink);
    writeRequestLine(logger, fields());
    const seen: unknown[] = [];
    const channel = tracingChannel('pino_asJson');
    const handlers = {
      start: (msg: unknown) => seen.push(msg),
      end() {},
      asyncStart() {},
      asyncEnd() {},
      error() {},
    };
    channel.subscribe(handlers);
    try {
      writeRequestLine(logger, fields());
    } finally {
      channel.unsubscribe(handlers);
    }
    assert.equal(seen.length, 1);
    assert.equal(lines.length, 2);
    assert.equal(withoutTime(lines[0]!), withoutTime(lines[1]!));
  });
});
