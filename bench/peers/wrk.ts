/**
 * One wrk run in its own process, parsed. wrk counts 3xx as success, so a login redirect would look
 * like a fast 200: the harness checks each target's cookie answers the upstream's 200 before and after
 * every run, and counts wrk's "Non-2xx or 3xx" and socket errors here.
 */
import { execFile } from 'node:child_process';
import { track } from './children.js';

export interface WrkOptions {
  threads: number;
  connections: number;
  seconds: number;
}

export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  non2xx: number;
  socketErrors: number;
}

function ms(v: string, unit: string): number {
  const n = Number(v);
  if (unit === 'us') return n / 1000;
  if (unit === 's') return n * 1000;
  if (unit === 'm') return n * 60_000;
  return n;
}

export function parseWrk(out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const lat = (pct: string) => {
    const m = new RegExp(`\\s${pct}%\\s+([\\d.]+)(us|ms|s|m)`).exec(out);
    return m ? ms(m[1]!, m[2]!) : Number.NaN;
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return {
    rps: Math.round(rps),
    p50: lat('50'),
    p99: lat('99'),
    requests,
    errors: non2xx + socketErrors,
    non2xx,
    socketErrors,
  };
}

export function runWrk(url: string, cookie: string, o: WrkOptions): Promise<WrkResult> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--latency'];
  if (cookie) args.push('-H', `Cookie: ${cookie}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = execFile('wrk', args, { timeout: (o.seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`wrk failed: ${err.message} ${stderr}`));
      else resolve(parseWrk(stdout));
    });
    track(child);
  });
}
