// Fault injection rules (POST /__admin/faults, --fault, the `faults` option): fail or slow one
// endpoint on the Nth call, with a seeded probability, or always, so a client's retry and
// error handling can be tested against the exact failure it must survive. Applied by the router
// before the handler, keyed by the route's stats counter. Two kinds change the IdP rather than
// one answer: clock-skew (the handler runs with a clock that is off) and key-rotation (the keys
// rotate, with or without a window where tokens carry a kid the JWKS does not publish).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KeyRing } from './keys.js';
import type { Lifecycle } from './lifecycle.js';

export const FAULT_ENDPOINTS = ['token', 'userinfo', 'jwks', 'discovery', 'introspect', 'authorize'] as const;
export type FaultEndpoint = (typeof FAULT_ENDPOINTS)[number];
export const FAULT_KINDS = [
  'status',
  'rate-limit',
  'reset',
  'malformed-json',
  'html',
  'delay',
  'clock-skew',
  'key-rotation',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** At most this many rules are installed at once (spent ones count until DELETE). */
export const MAX_FAULT_RULES = 32;
const MAX_MS = 60_000;
/** A day either way: enough for any timezone or NTP mistake, small enough to stay a "skew". */
export const MAX_SKEW_SECONDS = 86_400;
/** The endpoints whose calls can fire a key rotation: where tokens are signed or keys are read. */
const ROTATION_ENDPOINTS: readonly FaultEndpoint[] = ['token', 'jwks'];

export interface FaultRule {
  endpoint: FaultEndpoint;
  kind: FaultKind;
  status?: number;
  retryAfter?: number;
  nth?: number;
  probability?: number;
  seed?: number;
  latencyMs?: number;
  jitterMs?: number;
  times?: number;
  /** clock-skew: seconds the IdP's clock is off (negative: behind). */
  skewSeconds?: number;
  /** key-rotation: publish the new key next to the old one at once (true) or not yet (false). */
  overlap?: boolean;
  /** key-rotation without overlap: JWKS answers that still lack the new key; absent: until DELETE. */
  publishAfter?: number;
}

/** A bad rule; `field` is the offending key, named in the message. */
export class FaultRuleError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const FIELDS = new Set([
  'endpoint',
  'kind',
  'status',
  'retryAfter',
  'nth',
  'probability',
  'seed',
  'latencyMs',
  'jitterMs',
  'times',
  'skewSeconds',
  'overlap',
  'publishAfter',
]);

function int(raw: Record<string, unknown>, where: string, field: string, min: number, max: number) {
  const v = raw[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new FaultRuleError(field, `${where}${field} must be an integer from ${min} to ${max}`);
  return v;
}

/** Validates one rule; `where` prefixes messages (e.g. "rules[0]."). Throws FaultRuleError. */
export function validateFaultRule(input: unknown, where = ''): FaultRule {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new FaultRuleError('rule', `${where || 'rule '}must be an object`);
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw))
    if (!FIELDS.has(key)) throw new FaultRuleError(key, `${where}${key} is not a fault rule field`);
  const endpoint = raw.endpoint;
  if (typeof endpoint !== 'string' || !(FAULT_ENDPOINTS as readonly string[]).includes(endpoint))
    throw new FaultRuleError('endpoint', `${where}endpoint must be one of ${FAULT_ENDPOINTS.join(', ')}`);
  const latencyMs = int(raw, where, 'latencyMs', 0, MAX_MS);
  const kind = raw.kind ?? (latencyMs !== undefined ? 'delay' : 'status');
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind))
    throw new FaultRuleError('kind', `${where}kind must be one of ${FAULT_KINDS.join(', ')}`);
  const rule: FaultRule = { endpoint: endpoint as FaultEndpoint, kind: kind as FaultKind };
  const only = (field: string, ok: boolean, why: string) => {
    if (raw[field] !== undefined && !ok) throw new FaultRuleError(field, `${where}${field} ${why}`);
  };
  only('status', kind === 'status', 'needs kind status');
  only('retryAfter', kind === 'rate-limit', 'needs kind rate-limit');
  only('seed', raw.probability !== undefined, 'needs probability');
  only('jitterMs', latencyMs !== undefined, 'needs latencyMs');
  only('probability', raw.nth === undefined, 'cannot be combined with nth');
  only('times', raw.nth === undefined, 'cannot be combined with nth (nth fires once)');
  only('skewSeconds', kind === 'clock-skew', 'needs kind clock-skew');
  only('overlap', kind === 'key-rotation', 'needs kind key-rotation');
  only(
    'publishAfter',
    kind === 'key-rotation' && raw.overlap === false,
    'needs kind key-rotation with overlap false',
  );
  if (kind === 'clock-skew' && raw.skewSeconds === undefined)
    throw new FaultRuleError('skewSeconds', `${where}skewSeconds is required for kind clock-skew`);
  if (kind === 'key-rotation') {
    if (typeof raw.overlap !== 'boolean')
      throw new FaultRuleError('overlap', `${where}overlap must be true or false for kind key-rotation`);
    if (!ROTATION_ENDPOINTS.includes(endpoint as FaultEndpoint))
      throw new FaultRuleError(
        'endpoint',
        `${where}endpoint must be ${ROTATION_ENDPOINTS.join(' or ')} for kind key-rotation`,
      );
  }
  if (kind === 'delay' && latencyMs === undefined)
    throw new FaultRuleError('latencyMs', `${where}latencyMs is required for kind delay`);
  const p = raw.probability;
  if (p !== undefined && (typeof p !== 'number' || !(p >= 0 && p <= 1)))
    throw new FaultRuleError('probability', `${where}probability must be a number from 0 to 1`);
  const set = <K extends keyof FaultRule>(k: K, v: FaultRule[K] | undefined) => {
    if (v !== undefined) rule[k] = v;
  };
  set('status', int(raw, where, 'status', 400, 599) ?? (kind === 'status' ? 503 : undefined));
  set('retryAfter', int(raw, where, 'retryAfter', 0, 86_400) ?? (kind === 'rate-limit' ? 1 : undefined));
  set('nth', int(raw, where, 'nth', 1, 1_000_000));
  set('probability', p as number | undefined);
  set('seed', int(raw, where, 'seed', 0, 0xffffffff));
  set('latencyMs', latencyMs);
  set('jitterMs', int(raw, where, 'jitterMs', 0, MAX_MS));
  // A rotation is an event, not a per-call answer: it fires once unless nth or times say otherwise.
  set(
    'times',
    int(raw, where, 'times', 1, 1_000_000) ??
      (kind === 'key-rotation' && raw.nth === undefined ? 1 : undefined),
  );
  set('skewSeconds', int(raw, where, 'skewSeconds', -MAX_SKEW_SECONDS, MAX_SKEW_SECONDS));
  set('overlap', raw.overlap as boolean | undefined);
  set('publishAfter', int(raw, where, 'publishAfter', 0, 1_000_000));
  return rule;
}

/** `endpoint=token,nth=2,kind=status,status=500` → a validated rule (the CLI's --fault). */
export function parseFaultSpec(spec: string): FaultRule {
  const raw: Record<string, unknown> = {};
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 1) throw new FaultRuleError('spec', `"${part}" is not KEY=VALUE`);
    const value = part.slice(eq + 1).trim();
    raw[part.slice(0, eq).trim()] = /^-?\d+(\.\d+)?$/.test(value)
      ? Number(value)
      : value === 'true' || value === 'false'
        ? value === 'true'
        : value;
  }
  return validateFaultRule(raw);
}

/** mulberry32: tiny, seedable, and the same sequence in every process for the same seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the router does next: nothing (answered), or run the handler, its clock off by skewSeconds. */
export interface FaultOutcome {
  answered: boolean;
  skewSeconds?: number;
}
const PASS: FaultOutcome = Object.freeze({ answered: false });
const ANSWERED: FaultOutcome = Object.freeze({ answered: true });

interface Installed {
  rule: FaultRule;
  random: () => number;
  seen: number;
  fired: number;
}

export function isFaultEndpoint(kind: string): kind is FaultEndpoint {
  return (FAULT_ENDPOINTS as readonly string[]).includes(kind);
}

const PROXY_PAGE =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

export class FaultTable {
  #rules: Installed[] = [];

  constructor(initial: readonly FaultRule[] = []) {
    this.add(initial);
  }

  /** Adds validated rules; throws FaultRuleError past MAX_FAULT_RULES (nothing is added then). */
  add(rules: readonly FaultRule[]): void {
    if (this.#rules.length + rules.length > MAX_FAULT_RULES)
      throw new FaultRuleError('rules', `rules: at most ${MAX_FAULT_RULES} fault rules can be installed`);
    for (const rule of rules)
      this.#rules.push({
        rule,
        random: mulberry32(rule.seed ?? Math.floor(Math.random() * 0x100000000)),
        seen: 0,
        fired: 0,
      });
  }

  clear(): void {
    this.#rules = [];
  }

  list(): Array<FaultRule & { fired: number; spent: boolean }> {
    return this.#rules.map((r) => ({ ...r.rule, fired: r.fired, spent: spent(r) }));
  }

  /** The first live rule for `endpoint` that triggers on this call (every live rule sees the call). */
  #pick(endpoint: FaultEndpoint): Installed | undefined {
    let picked: Installed | undefined;
    for (const r of this.#rules) {
      if (r.rule.endpoint !== endpoint || spent(r)) continue;
      r.seen++;
      const { nth, probability } = r.rule;
      const hit =
        nth !== undefined ? r.seen === nth : probability !== undefined ? r.random() < probability : true;
      if (hit && picked === undefined) picked = r;
    }
    if (picked !== undefined) picked.fired++;
    return picked;
  }

  /**
   * Applies the triggered rule, if any: waits its latency, then answers with its failure, or
   * rotates the keys, or hands the handler a skewed clock.
   */
  async intercept(
    endpoint: FaultEndpoint,
    env: { lifecycle: Lifecycle; keys: KeyRing },
    req: IncomingMessage,
    res: ServerResponse,
    onFired: () => void,
  ): Promise<FaultOutcome> {
    const r = this.#pick(endpoint);
    if (r === undefined) return PASS;
    onFired();
    const { rule } = r;
    if (rule.latencyMs !== undefined) {
      const jitter = rule.jitterMs ? Math.round((r.random() * 2 - 1) * rule.jitterMs) : 0;
      const completed = await env.lifecycle.delay(Math.max(0, rule.latencyMs + jitter));
      if (!completed || req.socket.destroyed) {
        res.destroy();
        return ANSWERED;
      }
    }
    if (rule.kind === 'delay') return PASS;
    if (rule.kind === 'clock-skew') return { answered: false, skewSeconds: rule.skewSeconds ?? 0 };
    if (rule.kind === 'key-rotation') {
      // Before the handler, so this very call already sees the new key (signs with it, or lists it).
      if (rule.overlap) env.keys.rotate();
      else env.keys.rotateWithoutOverlap(rule.publishAfter);
      return PASS;
    }
    if (rule.kind === 'reset') {
      // RST, not FIN: the client sees ECONNRESET, as when a proxy or the IdP process dies.
      req.socket.resetAndDestroy();
      return ANSWERED;
    }
    req.resume(); // the unread body must not stall the connection
    const description = `injected fault (${rule.kind})`;
    if (rule.kind === 'status') {
      const error = rule.status === 503 ? 'temporarily_unavailable' : 'server_error';
      json(res, rule.status ?? 503, JSON.stringify({ error, error_description: description }));
    } else if (rule.kind === 'rate-limit') {
      json(res, 429, JSON.stringify({ error: 'rate_limited', error_description: description }), {
        'retry-after': String(rule.retryAfter ?? 1),
      });
    } else if (rule.kind === 'malformed-json') {
      json(res, 200, '{"access_token":"truncated');
    } else {
      res.writeHead(502, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(PROXY_PAGE) });
      res.end(PROXY_PAGE);
    }
    return ANSWERED;
  }
}

function spent(r: Installed): boolean {
  if (r.rule.nth !== undefined) return r.fired >= 1 || r.seen >= r.rule.nth;
  return r.rule.times !== undefined && r.fired >= r.rule.times;
}

function json(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}
