import { pino } from 'pino';
import type { Logger } from './log.js';

/** The fields of the one line every request gets (`"msg":"request"`). */
export interface RequestLineFields {
  reqId: string;
  method: string | undefined;
  path: string;
  status: number;
  user: string | undefined;
  decision: string | undefined;
  ms: number;
}

const {
  lsCacheSym,
  timeSym,
  chindingsSym,
  streamSym,
  endSym,
  mixinSym,
  hooksSym,
  needsMetadataGsym,
  asJsonSym,
} = pino.symbols;

/** The 'info' level's number in pino. */
const INFO = 30;

type Internals = Record<symbol, unknown>;
type LineStream = { write(s: string): unknown } & Internals;

/** Per logger object (a child is one of its own): may its request line be put together here? */
const plain = new WeakMap<object, boolean>();

/**
 * Writes the request line for `logger`: what `logger.info(fields, 'request')` writes, byte for
 * byte, put together here from pino's own pieces — its level prefix, its time function, its
 * serialised bindings and its line end, all read through the documented `pino.symbols` — and
 * handed to its destination, without pino's generic walk over the object with its formatters
 * and serializers: that walk was a sizeable part of a proxied request's own CPU.
 *
 * Whether a logger's line can be made this way is checked once per logger object, by making a
 * sample line both ways and comparing them (plainLine): a logger with formatters or serializers
 * that change these fields, a mixin, a message prefix, a write hook or a multistream destination
 * — an application's own logger handed to the middleware, say — gets `logger.info` as before.
 * Every field is a string or a number the gateway made, so there is nothing for censoring
 * (censorSecrets, which passes primitives through) to do: the path has no query, the request id
 * is checked against a safe alphabet, the user is a claim value and is JSON-escaped.
 */
export function writeRequestLine(logger: Logger, f: RequestLineFields): void {
  if (logger.levelVal > INFO) return;
  const l = logger as unknown as Internals;
  let ok = plain.get(logger);
  if (ok === undefined) {
    ok = isPlain(logger, l);
    plain.set(logger, ok);
  }
  if (!ok) {
    logger.info(f, 'request');
    return;
  }
  (l[streamSym] as LineStream).write(lineOf(l, f, (l[timeSym] as () => string)()));
}

function lineOf(l: Internals, f: RequestLineFields, time: string): string {
  let line = `${(l[lsCacheSym] as Record<number, string>)[INFO]}${time}${l[chindingsSym] as string},"reqId":${JSON.stringify(f.reqId)}`;
  if (f.method !== undefined) line += `,"method":${JSON.stringify(f.method)}`;
  line += `,"path":${JSON.stringify(f.path)},"status":${finite(f.status)}`;
  if (f.user !== undefined) line += `,"user":${JSON.stringify(f.user)}`;
  if (f.decision !== undefined) line += `,"decision":${JSON.stringify(f.decision)}`;
  return `${line},"ms":${finite(f.ms)},"msg":"request"${l[endSym] as string}`;
}

/** pino writes a number that is not finite as null. */
function finite(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/** Samples that exercise escaping (quotes, backslashes, control and non-ASCII characters) and absent fields. */
const SAMPLES: RequestLineFields[] = [
  {
    reqId: 'r-1',
    method: 'GET',
    path: '/a"b\\c\u0001é😀\ud800',
    status: 200,
    user: 'u"ser\n',
    decision: 'session',
    ms: 1.25,
  },
  { reqId: 'r-2', method: undefined, path: '/', status: 502, user: undefined, decision: undefined, ms: 0 },
];

function isPlain(logger: Logger, l: Internals): boolean {
  const hooks = l[hooksSym] as { streamWrite?: unknown } | undefined;
  const stream = l[streamSym] as LineStream | undefined;
  if (l[mixinSym] || typeof hooks?.streamWrite === 'function' || logger.msgPrefix || !stream) return false;
  if (stream[needsMetadataGsym] === true || typeof l[asJsonSym] !== 'function') return false;
  const asJson = l[asJsonSym] as (obj: object, msg: string, num: number, time: string) => string;
  const time = ',"time":0';
  return SAMPLES.every((f) => asJson.call(logger, { ...f }, 'request', INFO, time) === lineOf(l, f, time));
}
