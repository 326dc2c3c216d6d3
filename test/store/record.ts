import type { SessionRecord } from '../../src/session/record.js';

let seq = 0;
/** A minimal valid record (tokens are an opaque sealed string here; the store never opens them). */
export function record(over: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now();
  seq++;
  return {
    version: 1,
    sub: 'usr_alice',
    identity: {
      sub: 'usr_alice',
      user: 'alice',
      email: 'alice@example.com',
      groups: ['staff'],
      roles: [],
    } as never,
    tokens: `v1.sealed.${seq}`,
    hasRefreshToken: true,
    accessExpiresAt: now + 300_000,
    accessLifetimeMs: 300_000,
    refreshIssuedAt: now,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + 86_400_000,
    ...over,
  };
}
