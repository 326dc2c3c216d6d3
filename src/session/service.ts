import { type ClaimMapping, extractIdentity, type Identity } from '../identity/identity.js';
import type { TokenResult } from '../oidc/tokenResult.js';
import type { SessionStore } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { SessionIdCodec } from './cookieCodec.js';
import { recordTtlMs, type SessionRecord, type TokenSet } from './record.js';
import { TokenSealer } from './tokenSealer.js';

export interface SessionSettings {
  secrets: string[];
  maxAgeMs: number;
  idleTimeoutMs: number;
  claims: ClaimMapping;
}

/**
 * Creating, reading and rewriting session records: the one place that knows how a token result
 * becomes a record, how tokens are sealed, and how long a record lives in the store.
 */
export class SessionService {
  readonly codec: SessionIdCodec;
  private readonly sealer: TokenSealer;
  /** Opened token sets, cached per record object so forwarding tokens costs no decryption per request. */
  private readonly opened = new WeakMap<SessionRecord, TokenSet>();

  constructor(
    readonly store: SessionStore,
    private readonly settings: SessionSettings,
    private readonly clock: Clock,
  ) {
    this.codec = new SessionIdCodec(settings.secrets);
    this.sealer = new TokenSealer(settings.secrets);
  }

  get idleTimeoutMs(): number {
    return this.settings.idleTimeoutMs;
  }

  identityFrom(claims: Record<string, unknown>): Identity {
    return extractIdentity(claims, this.settings.claims);
  }

  tokens(rec: SessionRecord): TokenSet {
    let t = this.opened.get(rec);
    if (!t) {
      t = JSON.parse(this.sealer.open(rec.tokens)) as TokenSet;
      this.opened.set(rec, t);
    }
    return t;
  }

  /** A brand-new session (new id on every login: no fixation). */
  async create(
    result: TokenResult,
    identity: Identity,
  ): Promise<{ cookieValue: string; key: string; record: SessionRecord }> {
    const now = this.clock.now();
    const { cookieValue, storeKey } = this.codec.mint();
    const sid = result.claims && typeof result.claims.sid === 'string' ? result.claims.sid : undefined;
    const record: SessionRecord = {
      version: 1,
      sub: identity.sub,
      identity,
      tokens: this.sealer.seal(JSON.stringify(result.tokens)),
      hasRefreshToken: result.tokens.refreshToken !== undefined,
      accessExpiresAt: result.accessExpiresAt,
      accessLifetimeMs: result.accessLifetimeMs,
      refreshIssuedAt: now,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.settings.maxAgeMs,
    };
    if (sid) record.sid = sid;
    await this.store.put(storeKey, record, this.ttl(record), null);
    return { cookieValue, key: storeKey, record };
  }

  /** The record after a successful refresh: new tokens, identity re-extracted when claims came back. */
  refreshed(prev: SessionRecord, result: TokenResult): SessionRecord {
    const now = this.clock.now();
    const identity = result.claims ? this.identityFrom({ ...result.claims, sub: prev.sub }) : prev.identity;
    // A refresh response without a refresh token means "keep using the one you have".
    const tokens: TokenSet = { ...result.tokens };
    if (!tokens.refreshToken) {
      const old = this.tokens(prev).refreshToken;
      if (old) tokens.refreshToken = old;
    }
    const next: SessionRecord = {
      ...prev,
      version: prev.version + 1,
      identity,
      tokens: this.sealer.seal(JSON.stringify(tokens)),
      hasRefreshToken: tokens.refreshToken !== undefined,
      accessExpiresAt: result.accessExpiresAt,
      accessLifetimeMs: result.accessLifetimeMs,
      refreshIssuedAt: result.rotated ? now : prev.refreshIssuedAt,
    };
    delete next.refreshRetryAt;
    return next;
  }

  ttl(rec: SessionRecord): number {
    return recordTtlMs(rec, this.clock.now(), this.settings.idleTimeoutMs);
  }

  /** Is the record past its absolute or idle lifetime? */
  expired(rec: SessionRecord, now: number): boolean {
    if (now >= rec.expiresAt) return true;
    return this.settings.idleTimeoutMs > 0 && now - rec.lastSeenAt >= this.settings.idleTimeoutMs;
  }
}
