import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256b64url(input: string): string {
  return createHash('sha256').update(input).digest('base64url');
}

export function hmacB64url(key: Buffer, input: string, bytes = 32): string {
  return createHmac('sha256', key).update(input).digest().subarray(0, bytes).toString('base64url');
}

/** Constant-time string equality; length differences are not secret here (tags have fixed size). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  if (ab.length !== bb.length) return false;
  return timingSafeEqual(ab, bb);
}

/** Derives independent keys (cookie MAC, token encryption, ...) from the one configured secret. */
export function deriveKey(secret: string, purpose: string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'gatehouse/v1', purpose, length));
}
