import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { TestBrowser } from '../helpers/browser.js';
import { login, startStack, TEST_SECRET } from '../helpers/stack.js';
import { closedBy, connect, startWsUpstream } from '../helpers/websocket.js';

/**
 * A reload that takes access away must not leave open WebSockets running on the old rules: they
 * are re-authorized at once, as they are when their session changes. With
 * `websocketRecheckSeconds: 0` nothing else would ever close them.
 */
describe('configuration reload and open WebSockets', () => {
  it('a socket the new rules deny is closed at once; one opened on a path no longer in skipAuth too; one still allowed stays', async () => {
    const up = await startWsUpstream();
    const session = { secret: TEST_SECRET, websocketRecheckSeconds: 0 };
    const s = await startStack({
      config: {
        upstream: up.url,
        session,
        skipAuth: ['/public'],
        authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins', 'dev'] }] },
      } as never,
    });
    try {
      const bob = new TestBrowser();
      assert.equal((await login(s, bob, { user: 'bob' })).at(-1)!.status, 200);
      const cookie = `gatehouse=${bob.cookie(s.url, 'gatehouse')}`;
      const ws = (path: string) => `${s.url.replace('http:', 'ws:')}${path}`;

      const admin = await connect(ws('/admin/live'), { cookie });
      assert.ok(admin.ws, `admin upgrade refused: ${admin.status}`);
      const open = await connect(ws('/public/live'), {});
      assert.ok(open.ws, `public upgrade refused: ${open.status}`);
      const other = await connect(ws('/live'), { cookie });
      assert.ok(other.ws, `upgrade refused: ${other.status}`);

      s.gw.reload(
        loadConfig({
          env: {},
          object: {
            listen: s.cfg.listen,
            publicUrl: s.cfg.publicUrl,
            upstream: up.url,
            provider: { issuer: s.idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
            session,
            logging: { level: 'debug' },
            skipAuth: [],
            authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
          },
        }),
      );
      // Fresh requests see the new rules...
      assert.equal((await bob.request(`${s.url}/admin/x`, { kind: 'api' })).status, 403);
      // ...and so must the sockets opened under the old ones.
      await closedBy(admin.ws, 'the /admin socket bob no longer may use');
      await closedBy(open.ws, 'the unauthenticated socket on /public, which is no longer exempt');
      other.ws.send('still here?');
      const [msg] = (await once(other.ws, 'message')) as [Buffer];
      assert.equal(msg.toString(), 'echo:still here?', 'a socket the new rules allow stays open');
      other.ws.close();
    } finally {
      await s.close();
      await up.close();
    }
  });
});
