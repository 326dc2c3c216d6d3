import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';

/** The problems `loadConfig` names for a configuration it must refuse (fails the test if it accepts it). */
export function configProblems(object: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig({ object, env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  return assert.fail('loadConfig accepted the configuration');
}

/**
 * A gatehouse.yaml in a fresh temp dir: the smallest configuration `gatehouse serve` starts with
 * (a provider it never reaches before the check under test), plus `extra` YAML lines. Its path.
 */
export function writeServeConfig(extra: string[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-config-')), 'gatehouse.yaml');
  writeFileSync(
    file,
    [
      'publicUrl: http://127.0.0.1:4180',
      'listen: 127.0.0.1:0',
      'upstream: http://127.0.0.1:3000',
      'provider:',
      '  issuer: http://127.0.0.1:9',
      '  clientId: gatehouse',
      '  clientSecret: secret',
      'session:',
      `  secret: ${'s'.repeat(40)}`,
      ...extra,
    ].join('\n'),
  );
  return file;
}
