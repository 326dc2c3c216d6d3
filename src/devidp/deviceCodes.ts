// The pending device authorizations of RFC 8628: a device code (held by the device, stored by
// hash like every token) and a short user code (typed by a person at /device) name one request.
// Bounded like every store (ExpiringMap), and kept a while past expiry so a late poll answers
// expired_token rather than looking merely unknown. Every check-then-mark step is synchronous.
import { createHash, randomInt } from 'node:crypto';
import { ExpiringMap } from './expiringMap.js';
import { randomToken } from './tokens.js';

/** RFC 8628 §6.1: consonants only (no vowels, so no words), upper case, no look-alikes. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;
/** How long a decided or expired request is remembered after its expiry. */
const MEMORY_MS = 10 * 60_000;

export interface DeviceApproval {
  sub: string;
  sid: string;
  /** Seconds since the epoch. */
  authTime: number;
  offline: boolean;
}

export interface DeviceRequest {
  readonly clientId: string;
  readonly scope: string;
  readonly audience: string | undefined;
  /** As shown: XXXX-XXXX. */
  readonly userCode: string;
  readonly expiresAt: number;
  /** Milliseconds; grows by 5 s with every slow_down (RFC 8628 §3.5). */
  intervalMs: number;
  lastPollAt: number | undefined;
  state: 'pending' | 'approved' | 'denied' | 'redeemed';
  approval: DeviceApproval | undefined;
}

export type PollResult =
  | { kind: 'unknown' }
  | { kind: 'wrong_client' }
  | { kind: 'expired' }
  | { kind: 'slow_down'; intervalMs: number }
  | { kind: 'pending' }
  | { kind: 'denied' }
  | { kind: 'redeemed' }
  | { kind: 'approved'; request: DeviceRequest; approval: DeviceApproval };

export type DecideResult =
  | { kind: 'ok'; request: DeviceRequest }
  | { kind: 'unknown' | 'expired' | 'decided' };

function key(deviceCode: string): string {
  return createHash('sha256').update(deviceCode).digest('base64url');
}

/** Upper case, punctuation and spaces dropped (RFC 8628 §6.1), so "bcdf-ghjk" finds BCDFGHJK. */
export function normalizeUserCode(typed: string): string {
  return typed.toUpperCase().replace(/[^A-Z]/g, '');
}

function newUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

export class DeviceCodeStore {
  readonly #byDeviceCode: ExpiringMap<string, DeviceRequest>;
  /** Normalized user code → device code key. */
  readonly #byUserCode: ExpiringMap<string, string>;

  constructor(maxEntries: number) {
    this.#byDeviceCode = new ExpiringMap(maxEntries);
    this.#byUserCode = new ExpiringMap(maxEntries);
  }

  create(
    p: { clientId: string; scope: string; audience: string | undefined; ttlMs: number; intervalMs: number },
    now: number,
  ): { deviceCode: string; request: DeviceRequest } {
    let code = newUserCode();
    // 20^8 codes: a clash is rare but possible, and two devices must never share one.
    while (this.#byUserCode.get(code, now) !== undefined) code = newUserCode();
    const deviceCode = randomToken();
    const request: DeviceRequest = {
      clientId: p.clientId,
      scope: p.scope,
      audience: p.audience,
      userCode: `${code.slice(0, 4)}-${code.slice(4)}`,
      expiresAt: now + p.ttlMs,
      intervalMs: p.intervalMs,
      lastPollAt: undefined,
      state: 'pending',
      approval: undefined,
    };
    const k = key(deviceCode);
    this.#byDeviceCode.set(k, request, request.expiresAt + MEMORY_MS);
    this.#byUserCode.set(code, k, request.expiresAt + MEMORY_MS);
    return { deviceCode, request };
  }

  /** The request a typed user code names, while it can still be decided. */
  byUserCode(typed: string, now: number): DecideResult {
    const k = this.#byUserCode.get(normalizeUserCode(typed), now);
    const request = k === undefined ? undefined : this.#byDeviceCode.get(k, now);
    if (request === undefined) return { kind: 'unknown' };
    if (request.expiresAt <= now) return { kind: 'expired' };
    if (request.state !== 'pending') return { kind: 'decided' };
    return { kind: 'ok', request };
  }

  /** Approves (with the user's login) or denies a pending request, once. */
  decide(typed: string, approval: DeviceApproval | 'deny', now: number): DecideResult {
    const found = this.byUserCode(typed, now);
    if (found.kind !== 'ok') return found;
    if (approval === 'deny') found.request.state = 'denied';
    else {
      found.request.state = 'approved';
      found.request.approval = approval;
    }
    return found;
  }

  /**
   * One poll of the token endpoint. A pending request polled sooner than its interval answers
   * slow_down and the interval grows by 5 s; an approved one is redeemed in the same step.
   */
  poll(deviceCode: string, clientId: string, now: number): PollResult {
    const request = this.#byDeviceCode.get(key(deviceCode), now);
    if (request === undefined) return { kind: 'unknown' };
    if (request.clientId !== clientId) return { kind: 'wrong_client' };
    if (request.state === 'redeemed') return { kind: 'redeemed' };
    if (request.expiresAt <= now) return { kind: 'expired' };
    if (request.state === 'denied') return { kind: 'denied' };
    if (request.state === 'approved' && request.approval !== undefined) {
      request.state = 'redeemed';
      return { kind: 'approved', request, approval: request.approval };
    }
    const last = request.lastPollAt;
    request.lastPollAt = now;
    if (last !== undefined && now - last < request.intervalMs) {
      request.intervalMs += 5_000;
      return { kind: 'slow_down', intervalMs: request.intervalMs };
    }
    return { kind: 'pending' };
  }

  sweep(now: number): void {
    this.#byDeviceCode.sweep(now);
    this.#byUserCode.sweep(now);
  }

  get size(): number {
    return this.#byDeviceCode.size;
  }
}
