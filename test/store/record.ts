import type { SessionRecord } from '../../src/session/record.js';
import type { LoginFlow } from '../../src/session/store.js';

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

/** The `n`th login flow of a browser (its fields name `n`, so a test can tell flows apart). */
export function flow(browserId: string, n: number): LoginFlow {
  return { browserId, codeVerifier: `v${n}`, nonce: `n${n}`, returnTo: `/p${n}`, createdAt: n };
}
