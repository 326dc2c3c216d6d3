/**
 * Closed-loop HTTP load generator, run as a child process so it does not share an event loop
 * with the server under test. Prints one JSON line: requests, errors, rps, p50/p99 (ms).
 * Usage: node --import tsx bench/loadWorker.ts URL CONNECTIONS SECONDS [HEADERS_JSON]
 */
import { Pool } from 'undici';

const [url, connArg, secArg, headersArg] = process.argv.slice(2);
if (!url) throw new Error('usage: loadWorker URL CONNECTIONS SECONDS [HEADERS_JSON]');
const connections = Number(connArg ?? 50);
const seconds = Number(secArg ?? 5);
const headers = headersArg ? (JSON.parse(headersArg) as Record<string, string>) : {};
const u = new URL(url);
const pool = new Pool(u.origin, { connections, pipelining: 1 });
const latencies: number[] = [];
let errors = 0;
let statusErrors = 0;
const deadline = performance.now() + seconds * 1000;
const warmupUntil = performance.now() + Math.min(1000, seconds * 200);

async function loop(): Promise<void> {
  while (performance.now() < deadline) {
    const t0 = performance.now();
    try {
      const res = await pool.request({ path: u.pathname + u.search, method: 'GET', headers });
      await res.body.dump();
      if (res.statusCode !== 200) statusErrors++;
    } catch {
      errors++;
      continue;
    }
    const t1 = performance.now();
    if (t0 >= warmupUntil) latencies.push(t1 - t0);
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: connections }, loop));
const measured = (performance.now() - Math.max(started, warmupUntil)) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
process.stdout.write(
  `${JSON.stringify({
    requests: latencies.length,
    errors,
    statusErrors,
    rps: Math.round(latencies.length / measured),
    p50: Number(pct(0.5).toFixed(3)),
    p99: Number(pct(0.99).toFixed(3)),
  })}\n`,
);
await pool.close();
