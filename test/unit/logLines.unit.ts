import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { createLogger } from '../../src/util/log.js';
import { BatchedLines } from '../../src/util/logLines.js';
import { type RequestLineFields, writeRequestLine } from '../../src/util/requestLogLine.js';

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

  test('follows the level: nothing below info, and a reload that lowers the level brings the line back', () => {
    const { lines, sink } = collecting();
    const logger = createLogger('warn', sink);
    writeRequestLine(logger, fields());
    assert.equal(lines.length, 0);
    logger.level = 'info';
    writeRequestLine(logger, fields());
    assert.equal(lines.length, 1);
  });

  test('an application’s own logger with a mixin or serializers gets its own format (logger.info)', () => {
    const { lines, sink } = collecting();
    const own = pino(
      { mixin: () => ({ app: 'mine' }), serializers: { path: (p: string) => `<${p}>` } },
      sink,
    );
    writeRequestLine(own, fields({ path: '/x' }));
    const parsed = JSON.parse(lines[0]!);
    assert.equal(parsed.app, 'mine');
    assert.equal(parsed.path, '</x>');
    assert.equal(parsed.msg, 'request');
  });
});
