import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { RequestFacts } from '../src/engine/facts.js';

export const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** Spawns `node --import tsx script args` and resolves with the first stdout line matching `ready`. */
export async function spawnTs(
  script: string,
  args: string[],
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(process.execPath, ['--import', 'tsx', here(script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buf = '';
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = buf.match(ready);
      if (m) resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
  return { child, match };
}

export interface LoadResult {
  requests: number;
  errors: number;
  statusErrors: number;
  rps: number;
  p50: number;
  p99: number;
}

export async function runLoad(
  url: string,
  connections: number,
  seconds: number,
  headers: Record<string, string> = {},
): Promise<LoadResult> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      here('./loadWorker.ts'),
      url,
      String(connections),
      String(seconds),
      JSON.stringify(headers),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  await once(child, 'exit');
  return JSON.parse(out.trim()) as LoadResult;
}

export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: Array<string | number>) =>
    `| ${cells.map((c, i) => String(c).padEnd(widths[i]!)).join(' | ')} |`;
  // Separator cells as biome formats Markdown (`| --- |`), so a written results file passes `biome check`.
  return [line(headers), `|${widths.map((w) => ` ${'-'.repeat(w)} `).join('|')}|`, ...rows.map(line)].join(
    '\n',
  );
}

/** An API call's facts for an in-process `engine.check` bench (no cookie, no token unless given). */
export function apiFacts(path: string, overrides: Partial<RequestFacts> = {}): RequestFacts {
  return {
    method: 'GET',
    path,
    url: path,
    host: '127.0.0.1:4180',
    secure: false,
    cookieHeader: undefined,
    accept: 'application/json',
    secFetchMode: 'cors',
    secFetchSite: undefined,
    origin: undefined,
    referer: undefined,
    secFetchDest: 'empty',
    xRequestedWith: undefined,
    authorization: undefined,
    clientIp: '127.0.0.1',
    requestId: 'bench',
    ...overrides,
  };
}
