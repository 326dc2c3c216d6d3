import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { OP_CLIENT_SECRET, type RunningOidcProvider, startOidcProvider } from '../helpers/oidcProvider.js';
import { TEST_SECRET } from '../helpers/stack.js';
import { makeTestCa, type TestCa } from '../helpers/testCa.js';

/** Runs the real CLI (`gatehouse doctor --config FILE`) and collects its output. */
async function doctor(file: string): Promise<{ code: number; lines: string[]; all: string }> {
  const r = await runCli(['doctor', '--config', file]);
  const out = r.stdout + r.stderr;
  return { code: r.code, lines: out.split('\n').filter(Boolean), all: out };
}

/**
 * `gatehouse doctor` reaches the provider as the gateway does: with `provider.caFile`, a provider
 * served over TLS by an internal CA (made in this test) passes discovery and JWKS; without it,
 * discovery fails on the untrusted certificate.
 */
describe('gatehouse doctor with an internal CA (provider.caFile)', () => {
  let ca: TestCa;
  let op: RunningOidcProvider;
  before(async () => {
    ca = makeTestCa();
    op = await startOidcProvider({
      gatewayUrl: 'http://127.0.0.1:4180',
      tls: { key: ca.key, cert: ca.cert },
      host: 'localhost',
    });
  });
  after(async () => {
    await op.close();
    ca.remove();
  });

  function configFile(name: string, provider: Record<string, unknown>): string {
    const file = join(ca.dir, name);
    writeFileSync(
      file,
      stringify({
        publicUrl: 'http://127.0.0.1:4180',
        upstream: 'http://127.0.0.1:9',
        provider: { issuer: op.url, clientId: 'gatehouse', clientSecret: OP_CLIENT_SECRET, ...provider },
        session: { secret: TEST_SECRET },
      }),
    );
    return file;
  }

  it('without caFile: FAIL provider.discovery on the certificate; with it: PASS discovery and JWKS', async () => {
    const without = await doctor(configFile('without.yaml', {}));
    const failed = without.lines.find((l) => l.startsWith('FAIL provider.discovery'));
    assert.ok(failed, without.all);
    assert.match(failed, /certificate|UNABLE_TO_VERIFY|SELF_SIGNED/i);

    const withCa = await doctor(configFile('with.yaml', { caFile: ca.caFile }));
    for (const check of ['provider.discovery', 'provider.jwks']) {
      const line = withCa.lines.find((l) => /^(PASS|WARN|FAIL) /.test(l) && l.includes(` ${check}:`));
      assert.ok(line?.startsWith('PASS '), `${check}: ${line}\n${withCa.all}`);
    }
  });
});
