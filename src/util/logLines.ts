import { writeSync } from 'node:fs';

/**
 * Writes at most this many bytes per write(2): a write of ≤ PIPE_BUF (4096 on Linux) bytes to a
 * pipe is atomic, so processes sharing one stdout (`server.workers`) never interleave inside a line.
 */
const BLOCK_BYTES = 4096;
const EAGAIN_WAIT = new Int32Array(new SharedArrayBuffer(4));

/**
 * A pino destination that writes the log lines of one event-loop turn together, in blocks of
 * whole lines, instead of one synchronous write(2) per line. Under load a turn finishes many
 * requests, so the request log costs a fraction of a syscall per line; when idle a line is out
 * at the end of the turn that wrote it (no timer, no lag). Lines stay in order; they are written
 * synchronously as before (a blocked stdout slows the gateway rather than growing a buffer), and
 * `flushSync` runs on process exit, so an exit (`process.exit`, an uncaught error) loses nothing;
 * only a SIGKILL can lose the lines of the turn it interrupts.
 */
export class BatchedLines {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly fd: number) {}

  /** pino's destination interface: one serialised line (with its newline). */
  write(line: string): boolean {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushTurn);
    }
    return true;
  }

  private readonly flushTurn = (): void => {
    this.scheduled = false;
    this.flushSync();
  };

  /**
   * Writes every pending line now. A stdout that is gone (EPIPE: the reader exited) or broken
   * drops the lines rather than crashing the gateway, as pino's destination does.
   */
  flushSync(): void {
    const lines = this.pending;
    if (lines.length === 0) return;
    this.pending = [];
    let block = '';
    try {
      for (const line of lines) {
        if (block.length > 0 && block.length + line.length > BLOCK_BYTES) {
          this.writeAll(block);
          block = '';
        }
        block += line;
      }
      this.writeAll(block);
    } catch {
      // Nowhere left to say so: the log is the thing that failed.
    }
  }

  /** pino's `logger.flush(cb)`. */
  flush(cb?: (err?: Error) => void): void {
    this.flushSync();
    cb?.();
  }

  private writeAll(text: string): void {
    let buf = Buffer.from(text, 'utf8');
    while (buf.length > 0) {
      try {
        buf = buf.subarray(writeSync(this.fd, buf));
      } catch (err) {
        // A non-blocking stdout (a pipe libuv opened) that is full: wait for the reader, as
        // pino's own synchronous destination does.
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        Atomics.wait(EAGAIN_WAIT, 0, 0, 1);
      }
    }
  }
}

let stdoutLines: BatchedLines | undefined;

/** The one batched destination for stdout in this process, flushed when the process exits. */
export function stdoutLogLines(): BatchedLines {
  if (!stdoutLines) {
    const lines = new BatchedLines(1);
    process.on('exit', () => lines.flushSync());
    stdoutLines = lines;
  }
  return stdoutLines;
}
