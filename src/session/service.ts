import { type ClaimMapping, extractIdentity, type Identity } from '../identity/identity.js';
import type { GatewayMetrics } from '../metrics.js';
import type { TokenResult } from '../oidc/tokenResult.js';
import type { TokenSet } from '../oidc/tokenSet.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { AuthenticatedStore } from './authenticatedStore.js';
import type { SessionIdCodec } from './cookieCodec.js';
import { ListInterner } from './listInterner.js';
import { recordTtlMs, type SessionRecord } from './record.js';
import { SessionKeys } from './sessionKeys.js';
import type { SessionStore } from './store.js';
import type { SealForm } from './tokenSealer.js';

export interface SessionSettings {
  /** `session.secret` first, then `session.previousSecrets`, at start (`rotateSecrets` replaces the keys made from them). */
  secrets: string[];
  maxAgeMs: number;
  idleTimeoutMs: number;
  claims: ClaimMapping;
  /**
   * The provider preset's claim shaping (Keycloak roles, Auth0 namespaced claims, GitLab
   * groups_direct), applied before the identity is read; never changes the claims kept.
   */
  shapeClaims?: ((claims: Record<string, unknown>) => Record<string, unknown>) | undefined;
  /**
   * Top-level claims a record keeps (`claims`) besides its identity: those the header templates
   * read (HeaderTemplates.claimNames). Empty or absent: none, and records carry no `claims`.
   */
  keepClaims?: readonly string[] | undefined;
}

/** Where refused (edited, swapped, unsigned) records are reported. */
export interface SessionObservers {
  logger?: Logger;
  metrics?: GatewayMetrics;
}

/**
 * Creating, reading and rewriting session records: the one place that knows how a token result
 * becomes a record, how tokens are sealed, and how long a record lives in the store.
 *
 * `store` is the given store behind `AuthenticatedStore`: every record read through it has been
 * verified (MAC over its content and store key), every record written through it is signed. All
 * record reads and writes of the engine, the refresh coordinator and logout go through it.
 */
export class SessionService {
  /** Set by a reload whose routes' templates read other claims (keepClaims); else settings.keepClaims. */
  private claimNames: readonly string[] | undefined;
  readonly store: AuthenticatedStore<SessionKeys>;
  /** Opened token sets, cached per record object so forwarding tokens costs no decryption per request. */
  private readonly opened = new WeakMap<SessionRecord, TokenSet>();
  /** Scopes, groups and roles lists shared between records (they repeat across users). */
  private readonly interned = new ListInterner();

  constructor(
    store: SessionStore,
    private readonly settings: SessionSettings,
    private readonly clock: Clock,
    observers: SessionObservers = {},
  ) {
    const { logger, metrics } = observers;
    this.store = new AuthenticatedStore(store, new SessionKeys(settings.secrets), {
      firstSeen: (key, reason) =>
        // Never the record's content: only which session (a key prefix) and why.
        logger?.warn(
          { session: key.slice(0, 12), reason },
          'session record failed verification (edited, copied from another session, written before records were authenticated, or under a secret no longer configured); treated as no session',
        ),
      refused: (reason) => metrics?.recordsRejected.inc({ reason }),
    });
    // gatehouse_sessions: counted by the store when scraped, never kept up on the request path.
    metrics?.countSessionsWith(() => this.store.census());
  }

  /** Binary in a store that keeps record objects in process (the memory store), else text. */
  private get sealForm(): SealForm {
    return this.store.keepsRecordObjects ? 'binary' : 'text';
  }

  /** The keys in force: they mint and seal from now on (the store's authenticator). */
  private get keys(): SessionKeys {
    return this.store.authenticator;
  }

  /** The session cookie codec in force (replaced whole by `rotateSecrets`). */
  get codec(): SessionIdCodec {
    return this.keys.codec;
  }

  /**
   * A re-read `session.secret` / `previousSecrets` (config reload): `secrets[0]` mints cookies,
   * seals tokens and signs records from the next request on; cookies, sealed tokens and record
   * MACs made with any of the others stay valid; those made with a secret no longer listed are
   * refused (no session: the normal sign-in). The cookie codec, the sealer and the record MAC are
   * built first and swapped by one assignment, so nothing runs with half of a rotation. Requests
   * already holding a record finish with the keys that accepted it.
   */
  rotateSecrets(secrets: readonly string[]): void {
    this.store.rekey(new SessionKeys(secrets));
  }

  get idleTimeoutMs(): number {
    return this.settings.idleTimeoutMs;
  }

  identityFrom(claims: Record<string, unknown>): Identity {
    const shape = this.settings.shapeClaims;
    return extractIdentity(shape ? shape(claims) : claims, this.settings.claims);
  }

  /**
   * The claims a record (or a bearer principal) keeps for the header templates: only the
   * `keepClaims` present in `claims`, as the provider sent them (before the preset's shaping,
   * which only feeds the identity). undefined when there are none to keep.
   */
  keptClaims(claims: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
    const names = this.claimNames ?? this.settings.keepClaims;
    if (!claims || !names?.length) return undefined;
    const kept: Record<string, unknown> = {};
    let any = false;
    for (const n of names) {
      if (Object.hasOwn(claims, n) && claims[n] !== undefined) {
        kept[n] = claims[n];
        any = true;
      }
    }
    return any ? kept : undefined;
  }

  /**
   * The tokens of a record read or written through `store` (opened with its store key as
   * associated data). Throws for a record the session layer has not authenticated.
   */
  /**
   * The claims new and refreshed records keep from now on (a reload changed the templates that
   * read them). Records written before keep what they had until their next refresh.
   */
  keepClaims(names: readonly string[]): void {
    this.claimNames = names;
  }

  tokens(rec: SessionRecord): TokenSet {
    let t = this.opened.get(rec);
    if (!t) {
      // Opened with the keys that accepted the record: a rotation while a request holds it does
      // not take its tokens away mid-request.
      const { key, by } = this.authenticated(rec);
      t = by.sealer.openTokens(rec.tokens, key);
      this.opened.set(rec, t);
    }
    return t;
  }

  private authenticated(rec: SessionRecord): { key: string; by: SessionKeys } {
    const a = this.store.authenticatedBy(rec);
    if (a === undefined) throw new Error('session record was not read or written through the session layer');
    return a;
  }

  /** A brand-new session (new id on every login: no fixation). */
  async create(
    result: TokenResult,
    identity: Identity,
  ): Promise<{ cookieValue: string; key: string; record: SessionRecord }> {
    const now = this.clock.now();
    // One set of keys for the cookie and the seal; the MAC is made in the same tick by `store.put`.
    const keys = this.keys;
    const { cookieValue, storeKey } = keys.codec.mint();
    const sid = result.claims && typeof result.claims.sid === 'string' ? result.claims.sid : undefined;
    const record: SessionRecord = {
      version: 1,
      // The provider's own sub: back-channel logout and the refresh subject check compare it.
      sub: identity.providerSub ?? identity.sub,
      identity: this.compact(identity),
      tokens: keys.sealer.sealTokens(result.tokens, storeKey, this.sealForm),
      hasRefreshToken: result.tokens.refreshToken !== undefined,
      accessExpiresAt: result.accessExpiresAt,
      accessLifetimeMs: result.accessLifetimeMs,
      refreshIssuedAt: now,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.settings.maxAgeMs,
    };
    if (sid) record.sid = sid;
    const claims = this.keptClaims(result.claims);
    if (claims) record.claims = claims;
    // The sign-in itself was the attempt to get a refresh token (engine/silentUpgrade.ts).
    if (!record.hasRefreshToken) record.silentUpgradeTriedAt = now;
    if (result.scopes) record.scopes = this.interned.list(result.scopes);
    await this.store.put(storeKey, record, this.ttl(record), null);
    return { cookieValue, key: storeKey, record };
  }

  /**
   * The record after a successful refresh: new tokens, identity re-extracted when claims came back.
   * `prev` must come from `store` (its store key seals the new tokens); write it back through `store`.
   */
  refreshed(prev: SessionRecord, result: TokenResult): SessionRecord {
    const now = this.clock.now();
    const merged = result.claims ? { ...result.claims, sub: prev.sub } : undefined;
    const identity = merged ? this.compact(this.identityFrom(merged)) : prev.identity;
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
      // Sealed with the secret in force now, whichever one `prev` was sealed with.
      tokens: this.keys.sealer.sealTokens(tokens, this.authenticated(prev).key, this.sealForm),
      hasRefreshToken: tokens.refreshToken !== undefined,
      accessExpiresAt: result.accessExpiresAt,
      accessLifetimeMs: result.accessLifetimeMs,
      refreshIssuedAt: result.rotated ? now : prev.refreshIssuedAt,
    };
    if (result.scopes) next.scopes = this.interned.list(result.scopes);
    // Claims that came back replace the kept ones, as they replace the identity.
    if (merged) {
      const claims = this.keptClaims(merged);
      if (claims) next.claims = claims;
      else delete next.claims;
    }
    delete next.refreshRetryAt;
    return next;
  }

  /** `identity` with its groups and roles lists shared with other records' equal ones. */
  private compact(identity: Identity): Identity {
    return Object.assign({}, identity, {
      groups: this.interned.list(identity.groups),
      roles: this.interned.list(identity.roles),
    });
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
