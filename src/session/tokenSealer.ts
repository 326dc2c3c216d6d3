import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deriveKey } from '../util/crypto.js';

/**
 * AES-256-GCM for tokens at rest. Output: `v2.<keyIdHash>.<iv>.<ciphertext+tag>` (base64url).
 * The key id lets a rotated secret still open records written before the rotation. The caller's
 * associated data (the record's store key) is bound into the GCM tag, so a blob copied into another
 * record does not open there. `v1` blobs (sealed without associated data) are refused.
 */
export class TokenSealer {
  private readonly keys: Array<{ id: string; key: Buffer }>;

  constructor(secrets: string[]) {
    this.keys = secrets.map((s) => ({
      id: deriveKey(s, 'token-key-id', 6).toString('base64url'),
      key: deriveKey(s, 'token-encryption'),
    }));
  }

  seal(plain: string, aad: string): string {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final(), c.getAuthTag()]);
    return `v2.${id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /**
   * Was `sealed` made with one of the configured keys? Only the key id is read (no decryption):
   * a record whose tokens were sealed under a secret since dropped is no session, like one whose
   * MAC is (see SessionKeys.verify).
   */
  knowsKeyOf(sealed: unknown): boolean {
    if (typeof sealed !== 'string') return false;
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
    if (body.length < 16) throw new Error('sealed value is truncated');
    const d = createDecipheriv('aes-256-gcm', entry.key, Buffer.from(ivS, 'base64url'));
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]).toString('utf8');
  }
}
