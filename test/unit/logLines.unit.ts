import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger } from '../../src/util/log.js';
import { BatchedLines } from '../../src/util/logLines.js';

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
