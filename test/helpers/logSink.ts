import { Writable } from 'node:stream';

/**
 * A pino destination for tests: every JSON log line is parsed and handed to `onLine` (pushed onto
 * an array when one is given), and echoed to stderr with GATEHOUSE_TEST_LOG=1.
 */
export function jsonLogSink(
  onLine: Array<Record<string, unknown>> | ((line: Record<string, unknown>, raw: string) => void),
): Writable {
  const take = Array.isArray(onLine) ? (l: Record<string, unknown>) => void onLine.push(l) : onLine;
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      const raw = chunk.toString();
      take(JSON.parse(raw) as Record<string, unknown>, raw);
      if (process.env.GATEHOUSE_TEST_LOG) process.stderr.write(raw);
      cb();
    },
  });
}
