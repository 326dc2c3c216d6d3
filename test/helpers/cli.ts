import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { track } from './children.js';

/** What a finished `gatehouse` command printed. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time, ms. */
  ms: number;
}

/**
 * Starts the real CLI (`gatehouse ARGS`, src/cli.ts under tsx) as a child process with only PATH
 * and `env` in its environment (no GATEHOUSE_* of ours), tracked so a failed test cannot leave it
 * running.
 */
export function spawnCli(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return track(
    spawn(
      process.execPath,
      ['--import', 'tsx', '-e', "import('./src/cli.ts').then((m) => m.main(process.argv.slice(1)))", ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'pipe' },
    ),
  );
}

/** Runs `gatehouse ARGS` to its end and collects its exit code and output. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const started = Date.now();
  const child = spawnCli(args, env);
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr, ms: Date.now() - started };
}
