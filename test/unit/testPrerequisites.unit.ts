import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * `npm test` prepares its own real parts (scripts/test-prerequisites.sh): when one is missing and
 * it may not install, it stops before any test with the one command to run — never a suite that
 * skips what it cannot find.
 */
describe('npm test prerequisites (scripts/test-prerequisites.sh)', () => {
  const script = fileURLToPath(new URL('../../scripts/test-prerequisites.sh', import.meta.url));
  const bin = mkdtempSync(join(tmpdir(), 'gatehouse-prereq-'));
  after(() => rmSync(bin, { recursive: true, force: true }));

  /** A PATH holding only the named tools (from the real PATH), so the others are "missing". */
  function pathWith(tools: string[]): string {
    for (const t of tools) {
      const found = spawnSync('bash', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
      if (found) symlinkSync(found, join(bin, t));
    }
    return bin;
  }

  it('names the missing packages and the install command, and exits 1 without installing', () => {
    const r = spawnSync('/usr/bin/bash', [script], {
      encoding: 'utf8',
      env: { PATH: pathWith(['id', 'seq', 'redis-cli']), GATEHOUSE_TEST_NO_INSTALL: '1' },
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /missing Debian packages: .*redis-server/);
    assert.match(r.stderr, /caddy/);
    assert.match(
      r.stderr,
      /run: sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends .*redis-server/,
    );
  });

  it('a REDIS_URL nobody answers at (not the default address) stops the run with the fix, starting nothing', () => {
    const r = spawnSync('/usr/bin/bash', [script], {
      encoding: 'utf8',
      env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1/0', GATEHOUSE_TEST_NO_INSTALL: '1' },
    });
    // The machine running this suite has every package (it got this far), so only Redis is missing.
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /no Redis answers at redis:\/\/127\.0\.0\.1:1\/0/);
    assert.doesNotMatch(r.stderr, /starting redis-server/);
  });
});
