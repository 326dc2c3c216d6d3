import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { TokenSet } from '../oidc/tokenSet.js';

/**
 * The plaintext of a `v3` token seal (TokenSealer.sealTokens): a token set in ~half the bytes
 * of its JSON. Byte 0 holds flags, the rest is the body:
 *
 * - `COMPACT`: the body is the three tokens in order (access, refresh, ID), each one kind byte —
 *   0 absent, 1 text (varint length + UTF-8), 2 base64url segments (a count byte, then per
 *   segment a varint length + the decoded bytes: a JWS is three, a JWE five, an opaque token one).
 *   A token is stored as segments only when every `.`-separated part re-encodes to exactly itself
 *   (canonical unpadded base64url); anything else is kept as text, so decoding always gives back
 *   the very string the provider sent. Without the flag the body is the UTF-8 JSON of the token
 *   set (a token set with fields this codec does not know).
 * - `DEFLATED`: the body is deflateRaw'ed (level 9, with `DICTIONARY`), set only when that is
 *   smaller. Compression before encryption is safe here: a sealed value holds one user's own
 *   tokens, nobody can mix chosen input with another user's secrets into one seal, and sizes at
 *   rest are not observable to such an attacker (CRIME/BREACH need both).
 */
const COMPACT = 0x01;
const DEFLATED = 0x02;

/** Largest token set a seal inflates back (a guard; real sets are a few KB, 600 groups ~70 KB). */
const MAX_PLAIN = 4 * 1024 * 1024;

/**
 * The preset deflate dictionary: JOSE header and JWT/OpenID Connect claim names and common
 * values, so even the first occurrence of `"preferred_username":` costs a back-reference.
 * Part of the `v3` format: changing it makes every v3 seal unreadable (that is a `v4`).
 */
const DICTIONARY = Buffer.from(
  `{"alg":"RS256","typ":"JWT","kid":"{"alg":"ES256","typ":"at+jwt","kid":"${[
    'resource_access',
    'realm_access',
    'allowed-origins',
    'cnf',
    'x5t#S256',
    'client_id',
    'scp',
    'amr',
    'acr',
    'tid',
    'oid',
    'upn',
    'ver',
    'uti',
    'idp',
    'ipaddr',
    'unique_name',
    'appid',
    'wids',
    'rh',
    'hd',
    'locale',
    'zoneinfo',
    'birthdate',
    'gender',
    'website',
    'picture',
    'profile',
    'middle_name',
    'nickname',
    'phone_number',
    'phone_number_verified',
    'address',
    'updated_at',
    'c_hash',
    'at_hash',
    'nonce',
    'session_state',
    'sid',
    'auth_time',
    'azp',
    'typ',
    'jti',
    'nbf',
    'roles',
    'groups',
    'given_name',
    'family_name',
    'name',
    'email_verified',
    'email',
    'preferred_username',
    'scope',
    'aud',
    'sub',
    'iss',
    'iat',
    'exp',
  ]
    .map((n) => `"${n}":`)
    .join('')}"openid profile email offline_access","https://","Bearer","ID",true,false,["`,
);

const ZLIB = { level: constants.Z_BEST_COMPRESSION, dictionary: DICTIONARY } as const;
const FIELDS = ['accessToken', 'refreshToken', 'idToken'] as const;
const KNOWN = new Set<string>(FIELDS);

/** Every part of `token` as bytes, when each is canonical base64url; else undefined (keep the text). */
function segments(token: string): Buffer[] | undefined {
  const parts = token.split('.');
  if (parts.length > 255) return undefined;
  const out: Buffer[] = [];
  for (const p of parts) {
    const b = Buffer.from(p, 'base64url');
    if (b.toString('base64url') !== p) return undefined;
    out.push(b);
  }
  return out;
}

function varint(n: number, out: number[]): void {
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

/** The compact body, or undefined for a token set it cannot represent exactly. */
function compact(t: TokenSet): Buffer | undefined {
  for (const k of Object.keys(t)) if (!KNOWN.has(k)) return undefined;
  if (typeof t.accessToken !== 'string') return undefined;
  const chunks: Buffer[] = [];
  for (const f of FIELDS) {
    const v: unknown = t[f];
    const head: number[] = [];
    if (v === undefined) {
      chunks.push(Buffer.from([0]));
      continue;
    }
    if (typeof v !== 'string') return undefined;
    const segs = segments(v);
    if (segs) {
      head.push(2, segs.length);
      chunks.push(Buffer.from(head));
      for (const s of segs) {
        const len: number[] = [];
        varint(s.length, len);
        chunks.push(Buffer.from(len), s);
      }
    } else {
      const text = Buffer.from(v, 'utf8');
      head.push(1);
      varint(text.length, head);
      chunks.push(Buffer.from(head), text);
    }
  }
  return Buffer.concat(chunks);
}

/** The token set as a v3 seal's plaintext. */
export function encodeTokens(t: TokenSet): Buffer {
  const body = compact(t);
  const flags = body ? COMPACT : 0;
  const plain = body ?? Buffer.from(JSON.stringify(t), 'utf8');
  const deflated = deflateRawSync(plain, ZLIB);
  return deflated.length < plain.length
    ? Buffer.concat([Buffer.from([flags | DEFLATED]), deflated])
    : Buffer.concat([Buffer.from([flags]), plain]);
}

/** Reads what `encodeTokens` wrote; throws on anything else (a seal is authenticated before this). */
export function decodeTokens(plain: Buffer): TokenSet {
  if (plain.length < 1) throw new Error('sealed tokens are empty');
  const flags = plain[0]!;
  if (flags & ~(COMPACT | DEFLATED)) throw new Error('sealed tokens have an unknown encoding');
  const body =
    flags & DEFLATED
      ? inflateRawSync(plain.subarray(1), { ...ZLIB, maxOutputLength: MAX_PLAIN })
      : plain.subarray(1);
  if (!(flags & COMPACT)) return JSON.parse(body.toString('utf8')) as TokenSet;
  let at = 0;
  const byte = (): number => {
    if (at >= body.length) throw new Error('sealed tokens are truncated');
    return body[at++]!;
  };
  const length = (): number => {
    let n = 0;
    for (let shift = 1; ; shift *= 0x80) {
      const b = byte();
      n += (b & 0x7f) * shift;
      if (b < 0x80) break;
      if (shift > 0x80 ** 3) throw new Error('sealed tokens have a bad length');
    }
    if (at + n > body.length) throw new Error('sealed tokens are truncated');
    return n;
  };
  const bytes = (): Buffer => {
    const n = length();
    at += n;
    return body.subarray(at - n, at);
  };
  const out: Partial<Record<(typeof FIELDS)[number], string>> = {};
  for (const f of FIELDS) {
    const kind = byte();
    if (kind === 0) continue;
    if (kind === 1) out[f] = bytes().toString('utf8');
    else if (kind === 2) {
      const n = byte();
      const parts: string[] = [];
      for (let i = 0; i < n; i++) parts.push(bytes().toString('base64url'));
      out[f] = parts.join('.');
    } else throw new Error('sealed tokens have an unknown token kind');
  }
  if (at !== body.length || out.accessToken === undefined) throw new Error('sealed tokens are malformed');
  return out as TokenSet;
}
