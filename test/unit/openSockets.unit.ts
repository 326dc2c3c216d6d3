import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import type { Decision } from '../../src/engine/decision.js';
import type { RequestFacts } from '../../src/engine/facts.js';
import { OpenSockets } from '../../src/http/openSockets.js';
import type { Route } from '../../src/routes/route.js';
import { createLogger } from '../../src/util/log.js';

const facts = (path: string): RequestFacts => ({
  method: 'GET',
  path,
  url: path,
  host: 'gw',
  secure: false,
  cookieHeader: undefined,
  accept: undefined,
  secFetchMode: 'websocket',
  secFetchDest: undefined,
  xRequestedWith: undefined,
  authorization: undefined,
  secFetchSite: undefined,
  origin: undefined,
  referer: undefined,
  clientIp: '127.0.0.1',
  requestId: `req-${path}`,
});
// The socket registry never looks at the route.
const allow: Decision = {
  type: 'allow',
  identity: undefined,
  upstreamHeaders: {},
  setCookies: [],
  route: { id: 'default' } as Route,
};
const deny = (status: number): Decision => ({
  type: 'error',
  status,
  code: status === 503 ? 'provider_unavailable' : 'session_expired',
  reason: 'x',
  setCookies: [],
});

function registry(answer: (f: RequestFacts) => Decision) {
  const events = new EventEmitter();
  const checked: string[] = [];
  const sockets = new OpenSockets({
    check: async (f) => {
      checked.push(f.path);
      return answer(f);
    },
    storeEvents: events,
    recheckMs: 0,
    logger: createLogger('silent'),
  });
  return { events, checked, sockets };
}

describe('OpenSockets', () => {
  test('closes the sockets of a session whose re-check answers 401 or 403, keeps 200 and 503', async () => {
    const verdict: Record<string, Decision> = {
      '/a': deny(401),
      '/b': deny(403),
      '/c': allow,
      '/d': deny(503),
    };
    const { sockets } = registry((f) => verdict[f.path]!);
    const s = Object.fromEntries(Object.keys(verdict).map((p) => [p, new PassThrough()]));
    for (const [p, sock] of Object.entries(s)) sockets.add(sock, facts(p), `k${p}`);
    assert.equal(sockets.size, 4);
    await sockets.recheck();
    assert.deepEqual(
      Object.entries(s).map(([p, sock]) => [p, sock.destroyed]),
      [
        ['/a', true],
        ['/b', true],
        ['/c', false],
        ['/d', false],
      ],
    );
    await new Promise(setImmediate); // 'close' is emitted on the next tick after destroy()
    assert.equal(sockets.size, 2, 'closed sockets leave the registry');
  });

  test('a store change re-checks only that session; changes during a check coalesce into one more', async () => {
    const { events, checked, sockets } = registry(() => allow);
    sockets.add(new PassThrough(), facts('/one'), 'k1');
    sockets.add(new PassThrough(), facts('/two'), 'k2');
    for (let i = 0; i < 100; i++) events.emit('invalidate', 'k1');
    events.emit('invalidate', 'unknown-key');
    await sockets.recheck('k1');
    // the first change starts a check at once; the 99 that arrive while it runs queue one more
    assert.deepEqual(checked, ['/one', '/one'], 'k2 and unknown keys are not checked');
  });

  test('sockets without a session are never re-checked, and shutdown closes every socket', async () => {
    const { checked, sockets } = registry(() => deny(401));
    const unbound = new PassThrough();
    const bound = new PassThrough();
    sockets.add(unbound, facts('/public'), undefined);
    sockets.add(bound, facts('/app'), 'k');
    await sockets.recheck();
    assert.deepEqual(checked, ['/app']);
    assert.equal(unbound.destroyed, false);
    sockets.close();
    assert.equal(unbound.destroyed, true);
  });

  test('a re-check that throws keeps the socket and the registry working', async () => {
    let n = 0;
    const { sockets } = registry(() => {
      if (n++ === 0) throw new Error('boom');
      return deny(401);
    });
    const sock = new PassThrough();
    sockets.add(sock, facts('/x'), 'k');
    await sockets.recheck('k');
    assert.equal(sock.destroyed, false);
    await sockets.recheck('k');
    assert.equal(sock.destroyed, true);
  });

  test('a slow re-check (a refresh against a hanging IdP) does not hold back another session', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const events = new EventEmitter();
    const sockets = new OpenSockets({
      check: async (f) => {
        if (f.path === '/slow') await held;
        return f.path === '/slow' ? allow : deny(401);
      },
      storeEvents: events,
      recheckMs: 0,
      logger: createLogger('silent'),
    });
    const slow = new PassThrough();
    const loggedOut = new PassThrough();
    sockets.add(slow, facts('/slow'), 'k-slow');
    sockets.add(loggedOut, facts('/out'), 'k-out');
    void sockets.recheck('k-slow');
    void sockets.recheck('k-out');
    await new Promise<void>((r) => loggedOut.once('close', () => r()));
    assert.equal(slow.destroyed, false, 'still being checked');
    release();
  });

  test('a socket upgraded after shutdown began is closed, not carried on unwatched', () => {
    const { sockets } = registry(() => allow);
    sockets.close();
    const late = new PassThrough();
    sockets.add(late, facts('/late'), 'k');
    assert.equal(late.destroyed, true);
    assert.equal(sockets.size, 0);
  });
});
