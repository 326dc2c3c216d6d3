import { tracingChannel } from 'node:diagnostics_channel';
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
  serializersSym,
} = pino.symbols;

/**
 * Set by createLogger on the loggers it makes; children inherit it (a pino child's prototype is
 * its parent). Only those loggers' lines are put together here: their format is Gatehouse's own.
 */
export const GATEHOUSE_LOGGER = Symbol('gatehouse.logger');

/** The 'info' level's number in pino. */
const INFO = 30;

/** pino's diagnostics channel around its serialisation: a subscriber (an APM agent) must see every line. */
const asJsonChannel = tracingChannel('pino_asJson');

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
 * Only for a logger createLogger made (GATEHOUSE_LOGGER) and its children, and checked once per
 * logger object by writing sample lines both ways and comparing them (isPlain). Any other logger
 * — an application's own, handed to the middleware, the Fastify plugin or the embedded gateway,
 * whose serializers, formatters or hooks may act on any value — always gets `logger.info`, as
 * does every line while something subscribes to pino's `pino_asJson` diagnostics channel.
 * Every field is a string or a number the gateway made, so there is nothing for censoring
 * (censorSecrets, which passes primitives through) to do: the path has no query, the request id
 * is checked against a safe alphabet, the user is a claim value and is escaped as pino escapes it.
 */
export function writeRequestLine(logger: Logger, f: RequestLineFields): void {
  if (!logger.isLevelEnabled('info')) return;
  if (!writesOwnRequestLines(logger) || asJsonChannel.hasSubscribers) {
    logger.info(f, 'request');
    return;
  }
  const l = logger as unknown as Internals;
  (l[streamSym] as LineStream).write(lineOf(l, f, (l[timeSym] as () => string)()));
}

/** Whether `logger`'s request lines are put together here (else `logger.info` writes them). */
export function writesOwnRequestLines(logger: Logger): boolean {
  const l = logger as unknown as Internals;
  let ok = plain.get(logger);
  if (ok === undefined) {
    ok = isPlain(logger, l);
    plain.set(logger, ok);
  }
  return ok;
}

function lineOf(l: Internals, f: RequestLineFields, time: string): string {
  let line = `${(l[lsCacheSym] as Record<number, string>)[INFO]}${time}${l[chindingsSym] as string},"reqId":${asString(f.reqId)}`;
  if (f.method !== undefined) line += `,"method":${asString(f.method)}`;
  line += `,"path":${asString(f.path)},"status":${finite(f.status)}`;
  if (f.user !== undefined) line += `,"user":${asString(f.user)}`;
  if (f.decision !== undefined) line += `,"decision":${asString(f.decision)}`;
  return `${line},"ms":${finite(f.ms)},"msg":"request"${l[endSym] as string}`;
}

/** pino writes a number that is not finite as null. */
function finite(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/**
 * A string as pino writes it: on Node before 25, a string of at most 100 characters without
 * control characters has only `"` and `\\` escaped (a lone surrogate goes out as it is); any
 * other through JSON.stringify, which is what pino uses on Node 25 and later. The samples of
 * isPlain hold both kinds, so a pino that changes this falls back to `logger.info`.
 */
const asString =
  Number(process.versions.node.split('.')[0]) >= 25 ? (s: string) => JSON.stringify(s) : shortString;

function shortString(s: string): string {
  if (s.length > 100) return JSON.stringify(s);
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32) return JSON.stringify(s);
    if (c === 34 || c === 92) {
      out += `${s.slice(last, i)}\\`;
      last = i;
    }
  }
  return `"${out === '' ? s : out + s.slice(last)}"`;
}

/**
 * Samples for the once-per-logger comparison: escaping both ways (quotes, backslashes, a lone
 * surrogate and non-ASCII without control characters; a control character; over 100 characters),
 * absent fields and numbers pino writes as null.
 */
const SAMPLES: RequestLineFields[] = [
  {
    reqId: 'r-1',
    method: 'GET',
    path: '/a"b\\c/é/😀/\ud800',
    status: 200,
    user: 'u"s\\er\ud800',
    decision: 'session',
    ms: 1.25,
  },
  {
    reqId: 'r-2',
    method: 'POST',
    path: `/${'x'.repeat(120)}"`,
    status: 403,
    user: 'a\u0001b',
    decision: 'deny',
    ms: Number.NaN,
  },
  { reqId: 'r-3', method: undefined, path: '/', status: 502, user: undefined, decision: undefined, ms: 0 },
];

function isPlain(logger: Logger, l: Internals): boolean {
  if (!l[GATEHOUSE_LOGGER]) return false;
  const hooks = l[hooksSym] as { streamWrite?: unknown; logMethod?: unknown } | undefined;
  const stream = l[streamSym] as LineStream | undefined;
  if (l[mixinSym] || hooks?.streamWrite || hooks?.logMethod || logger.msgPrefix || !stream) return false;
  if (stream[needsMetadataGsym] === true || typeof l[asJsonSym] !== 'function') return false;
  const serializers = l[serializersSym] as Record<string, unknown> | undefined;
  // pino's own `err` serializer is always there; the request line has no `err`.
  if (serializers && Object.keys(serializers).some((k) => k !== 'err')) return false;
  const asJson = l[asJsonSym] as (obj: object, msg: string, num: number, time: string) => string;
  const time = ',"time":0';
  return SAMPLES.every((f) => asJson.call(logger, { ...f }, 'request', INFO, time) === lineOf(l, f, time));
}
