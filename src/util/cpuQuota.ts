import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Reads a file's text, or undefined when it does not exist or cannot be read. */
export type ReadText = (path: string) => string | undefined;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * CPUs a cgroup v2 `cpu.max` allows: `"200000 100000"` (quota, period in µs) is 2; `"150000 100000"`
 * is 1.5; `"max 100000"` (or anything unreadable) is no limit (undefined).
 */
export function cpusOfCpuMax(text: string | undefined): number | undefined {
  const m = /^\s*(\d+|max)\s+(\d+)\s*$/.exec(text ?? '');
  if (!m || m[1] === 'max') return undefined;
  const quota = Number(m[1]);
  const period = Number(m[2]);
  if (!(quota > 0) || !(period > 0)) return undefined;
  return quota / period;
}

/**
 * This process's cgroup v2 directory, from `/proc/self/cgroup` (`0::/kubepods/pod…/…`). In a
 * container with its own cgroup namespace it is `/` (its cgroup is the mount's root).
 */
export function cgroupV2Path(procSelfCgroup: string | undefined): string | undefined {
  for (const line of (procSelfCgroup ?? '').split('\n')) {
    if (line.startsWith('0::')) return line.slice(3).trim() || '/';
  }
  return undefined;
}

/**
 * The CPU limit of this process's cgroup: the smallest `cpu.max` on its path up to the mount's
 * root (a parent's quota binds its children too — a Kubernetes pod's limit sits on the pod's
 * cgroup, the container's below it). Undefined when no cgroup on the path has a quota (or this
 * is not cgroup v2).
 */
export function cgroupCpuLimit(read: ReadText = readText, root = '/sys/fs/cgroup'): number | undefined {
  const path = cgroupV2Path(read('/proc/self/cgroup')) ?? '/';
  const parts = path.split('/').filter(Boolean);
  let limit: number | undefined;
  for (let depth = parts.length; depth >= 0; depth--) {
    const dir = [root, ...parts.slice(0, depth)].join('/');
    const cpus = cpusOfCpuMax(read(`${dir}/cpu.max`));
    if (cpus !== undefined) limit = limit === undefined ? cpus : Math.min(limit, cpus);
  }
  return limit;
}

/**
 * How many CPUs this process may keep busy: the container's CPU quota rounded up (1.5 CPUs → 2),
 * at most the cores it is scheduled on (`os.availableParallelism()`, which sees cpusets and
 * affinity but not a CFS quota), at least 1.
 */
export function usableCpus(read: ReadText = readText, parallelism = availableParallelism()): number {
  const quota = cgroupCpuLimit(read);
  const cores = Math.max(1, parallelism);
  if (quota === undefined) return cores;
  return Math.max(1, Math.min(cores, Math.ceil(quota)));
}
