import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { workerExecArgv } from '../../src/cluster/primary.js';
import { loadConfig } from '../../src/config/load.js';
import { cgroupCpuLimit, cgroupV2Path, cpusOfCpuMax, usableCpus } from '../../src/util/cpuQuota.js';
import { configProblems } from '../helpers/config.js';

/** A file system of given texts: every other path is missing. */
const files =
  (texts: Record<string, string>) =>
  (path: string): string | undefined =>
    texts[path];

describe('server.workers: auto — the CPUs a container may use', () => {
  test('cpu.max: "max 100000" is no quota; "200000 100000" is 2 CPUs; "150000 100000" is 1.5', () => {
    assert.equal(cpusOfCpuMax('max 100000\n'), undefined);
    assert.equal(cpusOfCpuMax('200000 100000\n'), 2);
    assert.equal(cpusOfCpuMax('150000 100000'), 1.5);
    assert.equal(cpusOfCpuMax('50000 100000'), 0.5);
    assert.equal(cpusOfCpuMax(undefined), undefined);
    assert.equal(cpusOfCpuMax('garbage'), undefined);
  });

  test('a quota is rounded up, at least 1, at most the cores the process is scheduled on', () => {
    const inContainer = (cpuMax: string) =>
      files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': cpuMax });
    assert.equal(usableCpus(inContainer('200000 100000\n'), 16), 2);
    assert.equal(usableCpus(inContainer('150000 100000\n'), 16), 2, '1.5 CPUs → 2 workers');
    assert.equal(usableCpus(inContainer('20000 100000\n'), 16), 1, '0.2 CPU → 1 worker');
    assert.equal(usableCpus(inContainer('800000 100000\n'), 4), 4, 'a quota above the cores: the cores');
    assert.equal(usableCpus(inContainer('max 100000\n'), 6), 6, 'no quota: availableParallelism');
  });

  test('no cgroup v2 (no cpu.max anywhere): availableParallelism, at least 1', () => {
    assert.equal(usableCpus(files({}), 3), 3);
    assert.equal(usableCpus(files({}), 0), 1);
  });

  test("the cgroup's path from /proc/self/cgroup; a parent's quota binds its children (a pod's limit)", () => {
    const cgroup = '12:cpu,cpuacct:/ignored-v1\n0::/kubepods/pod1/ctr\n';
    assert.equal(cgroupV2Path(cgroup), '/kubepods/pod1/ctr');
    assert.equal(cgroupV2Path('1:cpu:/x\n'), undefined, 'cgroup v1 only');
    const read = files({
      '/proc/self/cgroup': cgroup,
      '/sys/fs/cgroup/kubepods/cpu.max': 'max 100000',
      '/sys/fs/cgroup/kubepods/pod1/cpu.max': '300000 100000',
      '/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max': 'max 100000',
    });
    assert.equal(cgroupCpuLimit(read), 3);
    assert.equal(usableCpus(read, 8), 3);
  });
});

describe('server.workers in the configuration', () => {
  const base = (over: Record<string, unknown> = {}, session: Record<string, unknown> = {}) => ({
    publicUrl: 'http://127.0.0.1:4180',
    provider: {
      issuer: 'http://127.0.0.1:9000',
      clientId: 'gatehouse',
      clientSecret: 'gatehouse-dev-secret',
    },
    session: { secret: 'a-session-secret-that-is-long-enough-0123456789', ...session },
    server: over,
  });

  test('default 1; a number, auto, or GATEHOUSE_SERVER_WORKERS', () => {
    assert.equal(loadConfig({ object: base(), env: {} }).server.workers, 1);
    const redis = { store: 'redis' };
    assert.equal(loadConfig({ object: base({ workers: 4 }, redis), env: {} }).server.workers, 4);
    assert.equal(loadConfig({ object: base({ workers: 'auto' }), env: {} }).server.workers, 'auto');
    const env = { GATEHOUSE_SERVER_WORKERS: '3', GATEHOUSE_SESSION_STORE: 'redis' };
    assert.equal(loadConfig({ object: base(), env }).server.workers, 3);
    assert.equal(
      loadConfig({ object: base(), env: { GATEHOUSE_SERVER_WORKERS: 'auto' } }).server.workers,
      'auto',
    );
  });

  test('0, 1.5 and "many" are refused, naming the key and what it takes', () => {
    for (const workers of [0, 1.5, 'many']) {
      const [p] = configProblems(base({ workers }, { store: 'redis' }));
      assert.match(p!, /^server\.workers: must be a whole number from 1 to 1024, or auto/, String(workers));
    }
  });

  test('more than one with the memory store: the key, why, and the fix', () => {
    const [p] = configProblems(base({ workers: 2 }));
    assert.match(p!, /^server\.workers: 2 needs session\.store: redis/);
    assert.match(p!, /own sessions/);
    assert.match(p!, /set session\.store: redis .* or server\.workers: 1/);
  });
});

describe('worker processes', () => {
  test('run the loader flags of the primary, without an -e script it was started with', () => {
    assert.deepEqual(workerExecArgv(['--import', 'tsx', '-e', 'import("./src/cli.ts")']), [
      '--import',
      'tsx',
    ]);
    assert.deepEqual(workerExecArgv(['--eval=1', '--max-old-space-size=512', '-p', 'x']), [
      '--max-old-space-size=512',
    ]);
  });
});
