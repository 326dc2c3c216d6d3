import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { startStack } from '../helpers/stack.js';

describe('shutdown deadline', () => {
  it('an upstream that never answers cannot hold shutdown past shutdownTimeoutSeconds', async () => {
    // An app that accepts requests and never answers them (a hung backend).
    const held: Array<{ destroy(): void }> = [];
    const hung = createServer((req) => {
      held.push(req.socket);
    });
    hung.listen(0, '127.0.0.1');
    await once(hung, 'listening');
    const upstream = `http://127.0.0.1:${(hung.address() as { port: number }).port}`;
    const s = await startStack({
      config: { upstream, skipAuth: ['/hang'], shutdownTimeoutSeconds: 1 } as never,
    });
    try {
      const reached = once(hung, 'request');
      const pending = new TestBrowser().request(`${s.url}/hang`, { kind: 'api' }).catch((e: Error) => e);
      await reached;
      const t0 = performance.now();
      await s.gw.close();
      const ms = performance.now() - t0;
      // Without the deadline on the upstream pool, close() waited for undici's 60 s headers timeout.
      assert.ok(ms < 10_000, `close() took ${Math.round(ms)} ms with a 1 s shutdownTimeoutSeconds`);
      assert.ok((await pending) instanceof Error, 'the hung request was cut at the deadline');
    } finally {
      await s.close();
      for (const sock of held) sock.destroy();
      hung.close();
    }
  });
});
