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
