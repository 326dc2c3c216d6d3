/**
 * CPU time of a process and all its descendants (a Gatehouse primary and its workers), read from
 * /proc: the bench divides it by the requests served to report the gateway's own cost per request
 * (µs of CPU), which holds whatever shares the cores — the load generator runs on the same machine.
 * Linux only (the bench is for Debian/Ubuntu); elsewhere it answers undefined.
 */
import { execSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  ticksPerSecond ??= Number(execSync('getconf CLK_TCK', { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** pid → [ppid, utime + stime in ticks] of every process visible in /proc. */
function processTable(): Map<number, [number, number]> {
  const out = new Map<number, [number, number]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command (which may hold spaces) in parentheses: state ppid … utime stime.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(name), [Number(f[1]), Number(f[11]) + Number(f[12])]);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** CPU seconds (user + system) used so far by `pid` and every live descendant. */
export function cpuSecondsOfTree(pid: number): number | undefined {
  try {
    const table = processTable();
    if (!table.has(pid)) return undefined;
    let ticks = 0;
    const todo = [pid];
    while (todo.length) {
      const p = todo.pop()!;
      ticks += table.get(p)?.[1] ?? 0;
      for (const [child, [ppid]] of table) if (ppid === p) todo.push(child);
    }
    return ticks / clockTicks();
  } catch {
    return undefined;
  }
}
