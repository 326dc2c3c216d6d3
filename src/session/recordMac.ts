import { createHmac } from 'node:crypto';
import { deriveKey, safeEqual } from '../util/crypto.js';
import { recordWith, type SessionRecord } from './record.js';

/** Why a stored record was refused (the `reason` label of `gatehouse_session_records_rejected_total`). */
export type RecordRejection =
  /** Not a record at all (not a JSON object, or without a numeric version/lastSeenAt). */
  | 'malformed'
  /** No MAC: written before records were authenticated (one re-login after the upgrade), or stripped. */
  | 'unsigned'
  /** MAC made with a secret that is no longer in `session.secret`/`previousSecrets`. */
  | 'unknown_key'
  /** MAC does not match: the record was edited, or copied from another store key. */
  | 'invalid';

const DOMAIN = 'gatehouse/session-record/v1';

/**
 * HMAC-SHA256 over everything in a record that decides access, with the record's store key as
 * associated data: identity (groups, roles, email_verified...), the claims kept for header
 * templates, sub, sid, token expiries, refresh bookkeeping, absolute expiry, createdAt, version,
 * hasRefreshToken and the sealed tokens. Only `lastSeenAt` (moved by a touch without a rewrite)
 * and the MAC itself stay outside.
 *
 * Canonical bytes: `JSON.stringify` of the record without those two fields. The store keeps the
 * JSON the writer produced and `JSON.parse` keeps key order, so a reader re-serialising the parsed
 * record gets the writer's bytes back; any edit, added or removed field, or reordering fails.
 *
 * Output: `v1.<keyId>.<tag>`; `secrets[0]` signs, the rest still verify (secret rotation).
 */
export class RecordMac {
  private readonly keys: Array<{ id: string; key: Buffer }>;

  constructor(secrets: string[]) {
    this.keys = secrets.map((s) => ({
      id: deriveKey(s, 'record-mac-key-id', 6).toString('base64url'),
      key: deriveKey(s, 'record-mac'),
    }));
  }

  /** A copy of `rec` carrying a MAC for `storeKey` (any MAC it carried is replaced). */
  sign(storeKey: string, rec: SessionRecord): SessionRecord {
    const { id, key } = this.keys[0]!;
    // Made flat through a Buffer: a template literal keeps a rope of its parts (~50 bytes more per record).
    const mac = Buffer.from(`v1.${id}.${this.tag(key, storeKey, rec)}`, 'latin1').toString('latin1');
    return recordWith(rec, { mac });
  }

  /** undefined when `rec` is authentic for `storeKey`, else why not. Never throws. */
  verify(storeKey: string, rec: SessionRecord): RecordRejection | undefined {
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return 'malformed';
    if (typeof rec.version !== 'number' || typeof rec.lastSeenAt !== 'number') return 'malformed';
    if (!Number.isFinite(rec.lastSeenAt)) return 'malformed';
    const mac: unknown = rec.mac;
    if (mac === undefined) return 'unsigned';
    if (typeof mac !== 'string') return 'malformed';
    const parts = mac.split('.');
    if (parts.length !== 3 || parts[0] !== 'v1' || !parts[1] || !parts[2]) return 'malformed';
    const entry = this.keys.find((k) => k.id === parts[1]);
    if (!entry) return 'unknown_key';
    return safeEqual(parts[2], this.tag(entry.key, storeKey, rec)) ? undefined : 'invalid';
  }

  private tag(key: Buffer, storeKey: string, rec: SessionRecord): string {
    const { mac: _mac, lastSeenAt: _lastSeenAt, ...signed } = rec;
    return createHmac('sha256', key)
      .update(`${DOMAIN}\0${storeKey.length}:${storeKey}\0`)
      .update(JSON.stringify(signed))
      .digest('base64url');
  }
}
