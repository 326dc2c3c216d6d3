import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { DevIdp } from '../../src/devidp/index.js';
import { TestBrowser } from '../helpers/browser.js';
import { spawnCli } from '../helpers/cli.js';
import { startTestIdp } from '../helpers/devIdp.js';
import { freePort, login, startStack, TEST_SECRET } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

type Echo = { headers: Record<string, string | undefined> };
const ADMIN_RULE = { pathPrefix: '/admin', allowedGroups: ['admins'] };

describe('configuration reload', () => {
  it('Gateway.reload: rules, skipAuth and headers apply to the next request; the session and its login stay', async () => {
    const s = await startStack({ config: { authorization: { rules: [ADMIN_RULE] } } as never });
    try {
      const bob = new TestBrowser();
      assert.equal((await login(s, bob, { user: 'bob' })).at(-1)!.status, 200);
      assert.equal((await bob.request(`${s.url}/admin/x`, { kind: 'api' })).status, 403);
      const authorizes = s.idp.stats().requests.authorize;

      const object = (extra: Record<string, unknown>) => ({
        listen: s.cfg.listen,
        publicUrl: s.cfg.publicUrl,
        upstream: s.cfg.upstream,
        provider: { issuer: s.idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
        session: { secret: TEST_SECRET },
        logging: { level: 'debug' },
        ...extra,
      });
      // the reloadable changes: group dev admitted to /admin, the access token passed, /status open
      const widened = {
        authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins', 'dev'] }] },
        headers: { passAccessToken: true },
        skipAuth: ['/status'],
      };
      const plan = s.gw.reload(loadConfig({ env: {}, object: object(widened) }));
      assert.deepEqual(plan.applied.sort(), ['authorization', 'headers.passAccessToken', 'skipAuth']);
      assert.deepEqual(plan.needsRestart, []);
      const admin = await bob.request(`${s.url}/admin/x`, { kind: 'api' });
      assert.equal(admin.status, 200, 'the new rule lets group dev in');
      // the headers of a session already seen are made afresh under the new settings
      assert.match(admin.json<Echo>().headers['x-forwarded-access-token'] ?? '', /^ey/);
      assert.equal((await new TestBrowser().request(`${s.url}/status`, { kind: 'api' })).status, 200);
      assert.equal(s.idp.stats().requests.authorize, authorizes, 'no new login');
      const line = s.logs.find((l) => String(l.msg).startsWith('configuration reloaded: applied'));
      assert.ok(line, 'logged');

      // a key that needs a restart is named and keeps its running value
      const second = s.gw.reload(
        loadConfig({
          env: {},
          object: object({
            ...widened,
            session: { secret: TEST_SECRET, maxAgeSeconds: 60 },
            refresh: { graceSeconds: 5 },
          }),
        }),
      );
      assert.deepEqual(second.applied, []);
      assert.deepEqual(second.needsRestart.sort(), ['refresh', 'session.maxAgeSeconds']);
      assert.equal((await bob.request(`${s.url}/admin/x`, { kind: 'api' })).status, 200);
    } finally {
      await s.close();
    }
  });

  describe('gatehouse serve: SIGHUP and --watch', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-reload-'));
    let idp: DevIdp;
    let upstream: EchoUpstream;
    let child: ChildProcessWithoutNullStreams | undefined;
    let stderr = '';
    before(async () => {
      idp = await startTestIdp();
      upstream = await startEchoUpstream();
    });
    after(async () => {
      child?.kill('SIGKILL');
      await upstream?.close();
      await idp?.stop();
    });

    it('SIGHUP applies a new rule to a signed-in user; a bad file is refused and the running configuration stays', async () => {
      const port = await freePort();
      const file = join(dir, 'gatehouse.yaml');
      const write = (rules: unknown[], extra: Record<string, unknown> = {}) =>
        writeFileSync(
          file,
          stringify({
            listen: `127.0.0.1:${port}`,
            publicUrl: `http://127.0.0.1:${port}`,
            upstream: upstream.url,
            provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
            session: { secret: TEST_SECRET },
            authorization: { rules },
            ...extra,
          }),
        );
      write([]);
      child = spawnCli(['serve', '--config', file, '--watch']);
      let stdout = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      // Listening comes before discovery; requests are answered 503 until the provider is known.
      await until(
        () => stderr.includes('gatehouse listening on') && stdout.includes('OIDC provider discovered'),
        `the gateway to listen and discover: ${stderr}`,
        30_000,
      );
      const base = `http://127.0.0.1:${port}`;
      const alice = new TestBrowser();
      const hops = await alice.follow(`${base}/admin/x`);
      assert.equal(hops.at(-1)!.status, 200, 'no rule yet');

      write([{ pathPrefix: '/admin', allowedGroups: ['nobody'] }]);
      child.kill('SIGHUP');
      await until(
        () => /SIGHUP: configuration reloaded \(applied: authorization\)/.test(stderr),
        `the reload: ${stderr}`,
      );
      assert.equal(
        (await alice.request(`${base}/admin/x`, { kind: 'api' })).status,
        403,
        'the new rule holds',
      );
      assert.equal((await alice.request(`${base}/other`, { kind: 'api' })).status, 200, 'the session stays');

      writeFileSync(file, 'publicUrl: not-a-url\n');
      child.kill('SIGHUP');
      await until(() => stderr.includes('SIGHUP: reload refused, the running configuration stays'), stderr);
      assert.match(stderr, /publicUrl: must be an absolute http\(s\) URL/);
      assert.equal(
        (await alice.request(`${base}/admin/x`, { kind: 'api' })).status,
        403,
        'still the last good one',
      );

      // --watch: a changed file is picked up without a signal; a listen change is named, not applied
      write([], { listen: '127.0.0.1:1' });
      await until(
        () =>
          /changed: configuration reloaded \(applied: authorization; needs a restart: listen\)/.test(stderr),
        stderr,
      );
      assert.equal((await alice.request(`${base}/admin/x`, { kind: 'api' })).status, 200);
    });
  });
});
