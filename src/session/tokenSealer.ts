import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { TokenSet } from '../oidc/tokenSet.js';
import { deriveKey } from '../util/crypto.js';
import { decodeTokens, encodeTokens } from './tokenCodec.js';

/** How a v3 token seal is kept: base64url text (Redis, anything serialised) or one-byte binary (in process). */
export type SealForm = 'text' | 'binary';

/** First character of the binary v3 form; text forms start with `v`. */
const BINARY_V3 = '\u0003';
const BINARY_V3_BYTE = Buffer.from([3]);
const KEY_ID_BYTES = 6;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM for tokens at rest, with a key id so a rotated secret still opens what was sealed
 * before the rotation, and the caller's associated data (a record's store key) bound into the GCM
 * tag, so a blob copied into another record does not open there.
 *
 * - `seal`/`open` (any string; the handoff ticket, shared keys, the registered client secret):
 *   `v2.<keyId>.<iv>.<ciphertext+tag>`, each part base64url. `v1` blobs (sealed without
 *   associated data) are refused.
 * - `sealTokens`/`openTokens` (a session's token set): `v3`, the token set compactly encoded and
 *   deflated (tokenCodec.ts), sealed over `keyId(6) ‖ iv(12) ‖ ciphertext ‖ tag(16)`, kept either
 *   as text, `v3.` + base64url of those bytes (the key id is its first 8 characters), or — in a
 *   store that keeps records as objects in this process — as a one-byte string, `\x03` + the
 *   bytes as latin1 (V8 keeps it at 1 byte per byte, a quarter less than base64url). Its
 *   associated data is the caller's prefixed with `gatehouse/tokens/v3\0`. `openTokens` still
 *   opens `v2` token seals (the JSON of the token set), written before v3.
 */
export class TokenSealer {
  private readonly keys: Array<{ id: string; raw: Buffer; latin1: string; key: Buffer }>;

  constructor(secrets: string[]) {
    this.keys = secrets.map((s) => {
      const raw = deriveKey(s, 'token-key-id', KEY_ID_BYTES);
      return {
        id: raw.toString('base64url'),
        raw,
        latin1: raw.toString('latin1'),
        key: deriveKey(s, 'token-encryption'),
      };
    });
  }

  seal(plain: string, aad: string): string {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(IV_BYTES);
    const body = encrypt(key, iv, Buffer.from(plain, 'utf8'), Buffer.from(aad, 'utf8'));
    return `v2.${id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** A session's token set, sealed (v3) for the record stored under `aad`, in the given form. */
  sealTokens(tokens: TokenSet, aad: string, form: SealForm): string {
    const { raw, key } = this.keys[0]!;
    const iv = randomBytes(IV_BYTES);
    const parts = [raw, iv, encrypt(key, iv, encodeTokens(tokens), v3Aad(aad))];
    // Built as one flat string (a `+` would keep a rope of two strings in the record).
    if (form === 'binary') return Buffer.concat([BINARY_V3_BYTE, ...parts]).toString('latin1');
    return `v3.${Buffer.concat(parts).toString('base64url')}`;
  }

  /**
   * Was `sealed` made with one of the configured keys? Only the key id is read (no decryption):
   * a record whose tokens were sealed under a secret since dropped is no session, like one whose
   * MAC is (see SessionKeys.verify).
   */
  knowsKeyOf(sealed: unknown): boolean {
    if (typeof sealed !== 'string') return false;
    if (sealed.startsWith(BINARY_V3)) return this.keys.some((k) => sealed.startsWith(k.latin1, 1));
    if (sealed.startsWith('v3.')) return this.keys.some((k) => sealed.startsWith(k.id, 3));
    const [v, id] = sealed.split('.', 2);
    return v === 'v2' && this.keys.some((k) => k.id === id);
  }

  /** Throws when the value was not sealed by one of our keys with this `aad` (tampered, moved, unknown key). */
  open(sealed: string, aad: string): string {
    const [v, id, ivS, bodyS] = sealed.split('.');
    if (v !== 'v2' || !id || !ivS || !bodyS) throw new Error('sealed value has an unknown format');
    const entry = this.keys.find((k) => k.id === id);
    if (!entry) throw new Error('sealed with a key that is no longer configured');
    const body = Buffer.from(bodyS, 'base64url');
    if (body.length < TAG_BYTES) throw new Error('sealed value is truncated');
    return decrypt(entry.key, Buffer.from(ivS, 'base64url'), body, Buffer.from(aad, 'utf8')).toString('utf8');
  }

  /** The token set of `sealTokens` (either form) or of a v2 token seal; throws like `open`. */
  openTokens(sealed: string, aad: string): TokenSet {
    let bytes: Buffer;
    if (sealed.startsWith(BINARY_V3)) bytes = Buffer.from(sealed.slice(1), 'latin1');
    else if (sealed.startsWith('v3.')) bytes = Buffer.from(sealed.slice(3), 'base64url');
    else return JSON.parse(this.open(sealed, aad)) as TokenSet;
    if (bytes.length < KEY_ID_BYTES + IV_BYTES + TAG_BYTES) throw new Error('sealed value is truncated');
    const entry = this.keys.find((k) => k.raw.equals(bytes.subarray(0, KEY_ID_BYTES)));
    if (!entry) throw new Error('sealed with a key that is no longer configured');
    const iv = bytes.subarray(KEY_ID_BYTES, KEY_ID_BYTES + IV_BYTES);
    return decodeTokens(decrypt(entry.key, iv, bytes.subarray(KEY_ID_BYTES + IV_BYTES), v3Aad(aad)));
  }
}

function v3Aad(aad: string): Buffer {
  return Buffer.from(`gatehouse/tokens/v3\0${aad}`, 'utf8');
}

/** AES-256-GCM: ciphertext ‖ tag (what `decrypt` takes). */
function encrypt(key: Buffer, iv: Buffer, plain: Buffer, aad: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

/** AES-256-GCM: `body` is ciphertext ‖ tag. */
function decrypt(key: Buffer, iv: Buffer, body: Buffer, aad: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(aad);
  d.setAuthTag(body.subarray(body.length - TAG_BYTES));
  return Buffer.concat([d.update(body.subarray(0, body.length - TAG_BYTES)), d.final()]);
}
