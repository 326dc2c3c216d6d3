import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports for servers whose port must be known before they start (the gateway's publicUrl, nginx,
 * Caddy, redis-server).
 *
 * Why not "listen on 0, close, reuse the number": the kernel hands that same range out to every
 * `listen(0)` and to the source port of every outgoing connection, so between the close and the
 * real listen another socket may take it (EADDRINUSE; this failed a CI run under load). Ports are
 * drawn instead from *below* the kernel's ephemeral range, which the kernel never assigns on its
 * own, checked bindable, and never handed out twice by one process.
 */
const handedOut = new Set<number>();

function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(low);
    if (Number.isInteger(n) && n > 12_000) return n;
  } catch {
    // not Linux: fall through to the IANA dynamic range's lower bound
  }
  return 32_768;
}

const LOW = 10_000;
const HIGH = ephemeralLow(); // exclusive

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A free loopback port. `alsoFreeAt` lists offsets whose ports must be free too: a Redis Cluster
 * node also listens on its port + 10000 (the cluster bus), so that one must stay below the
 * ephemeral range as well.
 */
export async function freePort(opts: { alsoFreeAt?: number[] } = {}): Promise<number> {
  const offsets = [0, ...(opts.alsoFreeAt ?? [])];
  const span = Math.max(...offsets);
  for (let i = 0; i < 200; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - span - LOW));
    const all = offsets.map((o) => port + o);
    if (all.some((p) => handedOut.has(p))) continue;
    if ((await Promise.all(all.map(bindable))).every(Boolean)) {
      for (const p of all) handedOut.add(p);
      return port;
    }
  }
  throw new Error(`no free loopback port found in ${LOW}-${HIGH - 1}`);
}

/** A port for a Redis Cluster node: its cluster-bus port (+10000) is free and safe too. */
export const freeClusterPort = () => freePort({ alsoFreeAt: [10_000] });
