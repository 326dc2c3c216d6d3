import assert from 'node:assert/strict';

/**
 * Spellings of `/admin` that upstreams route to `/admin` (or could, decoding or splitting
 * differently): under a rule `/admin → admins` each must be 403 or 400 for a non-member.
 */
export const ADMIN_SPELLINGS = [
  '/admin',
  '/admin#x',
  '/Admin',
  '/ADMIN',
  '/%41dmin',
  '/%61dmin',
  '/admin%23',
  '/ad%6din',
  '/admin/',
  '//admin',
  '/public/../admin',
  '/public/..%2fadmin',
  '/public%2f..%2fadmin',
  '/admin%252f',
  '/%252e%252e/admin',
  '/public\\..\\admin',
  '/public%5c..%5cadmin',
];

/**
 * Spellings of `/admin` for rarer decoders (the hostile review's F1–F5): each is 403 (a reading
 * is under the rule) or 400 (refused before routing) for a non-member.
 */
export const RARER_ADMIN_SPELLINGS = {
  /** Read as /admin by case folding beyond ASCII, Windows/IIS, NFKC, or `%3B` as `;`: 403. */
  denied: [
    '/adm%C4%B1n', // F1: dotless ı, upper-cased to I by .NET OrdinalIgnoreCase
    '/ADM%C4%B1N/x',
    '/admin.', // F4: trailing dots and spaces dropped per segment (Windows, IIS)
    '/admin%2e',
    '/admin%20',
    '/admin./x',
    '/admin%20.%20/x',
    '/%EF%BD%81dmin', // F4: fullwidth a (NFKC, best-fit)
    '/admin%3B/panel', // F5: an encoded `;` dropped as a parameter after decoding
    '/admin%3Fx', // an encoded `?` ends the path for a server that decodes before it parses
    '/admin%3f/x',
    '/public/..%3B/admin',
    '/public/..%20/admin',
    '/public/%EF%BC%8E%EF%BC%8E/admin',
  ],
  /** Refused: encoded control characters (F3) and escapes that are not valid UTF-8 (F2): 400. */
  refused: [
    '/admin%00',
    '/admin%00.html',
    '/admin%0a',
    '/admin%09/x',
    '/admin%7f',
    '/public/%c0%ae%c0%ae/admin',
    '/public/%e0%80%ae%e0%80%ae/admin',
    '/public/..%c0%afadmin',
    '/public/%u002e%u002e/admin', // %uXXXX, decoded by IIS/http.sys
    '/%u0061dmin',
  ],
};

/** 400 with a reason and a request id, as JSON for an API call. */
export function assertRefused(
  r: { status: number; headers: Record<string, unknown>; body: string },
  what: string,
): void {
  assert.equal(r.status, 400, `${what}: ${r.status} ${r.body}`);
  const body = JSON.parse(r.body) as { error: string; reason: string; requestId: string };
  assert.equal(body.error, 'bad_request', what);
  assert.ok(body.reason.length > 10, what);
  assert.equal(body.requestId, r.headers['x-request-id'], what);
}
