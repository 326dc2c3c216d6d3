import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { WebSocket } from 'ws';
import type { DevIdp } from '../../src/devidp/index.js';
import { login, type Stack, startStack, TestBrowser } from '../helpers/stack.js';
import { closedBy, connect, startWsUpstream } from '../helpers/websocket.js';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from './helpers.js';

/**
 * Two gateways on one Redis: a WebSocket open on one replica is closed when the session ends on
 * the other (logout, or a back-channel logout delivered there), through the store's pub/sub.
 */
describe('WebSockets across replicas (Redis)', () => {
  const prefix = uniquePrefix('ws');
  let redis: Redis;
  let idp: DevIdp;
  let up: Awaited<ReturnType<typeof startWsUpstream>>;
  let a: Stack;
  let b: Stack;

  before(async () => {
    redis = await requireRedis();
    up = await startWsUpstream();
    // periodic re-checks off: only the pub/sub change events can close the sockets here
    const config = {
      upstream: up.url,
      session: { store: 'redis', redisUrl: REDIS_URL, redisKeyPrefix: prefix, websocketRecheckSeconds: 0 },
    } as never;
    // B starts the dev IdP, whose back-channel logouts go to B; A shares that IdP.
    b = await startStack({ config });
    idp = b.idp;
    a = await startStack({ idpInstance: idp, config });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await up?.close();
    await dropPrefix(redis, prefix);
    redis?.disconnect();
  });

  async function socketOnA() {
    const browser = new TestBrowser();
    await login(a, browser);
    const cookie = `gatehouse=${browser.cookie(a.url, 'gatehouse')}`;
    const r = await connect(`${a.url.replace('http:', 'ws:')}/live`, { cookie });
    assert.ok(r.ws, `upgrade refused: ${r.status} ${r.body}`);
    r.ws.send('ping');
    await once(r.ws, 'message');
    return { ws: r.ws, cookie };
  }

  const closed = (ws: WebSocket) =>
    closedBy(ws, 'the session ended on replica B, the socket is on replica A');

  it('logout on replica B closes the socket open on replica A', async () => {
    const { ws, cookie } = await socketOnA();
    const out = await new TestBrowser().request(`${b.url}/oauth2/logout`, {
      method: 'POST',
      headers: { cookie },
    });
    assert.equal(out.status, 303);
    await closed(ws);
    assert.equal(a.gw.openSockets.size, 0);
  });

  it('a back-channel logout received by replica B closes the socket open on replica A', async () => {
    const { ws } = await socketOnA();
    assert.deepEqual(await idp.backchannelLogout({ sub: 'usr_alice' }), { delivered: true, status: 200 });
    await closed(ws);
  });
});
