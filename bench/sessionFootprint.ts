/**
 * Sessions as a real sign-in leaves them, for the memory benches (`npm run bench`'s bytes per
 * session, `npm run bench:memory`): the memory store and SessionService built as the gateway
 * builds them (default claims), and token sets shaped like a real IdP's — RS256 JWTs whose
 * header and payload are base64url JSON with realistic claims and whose signature is 256 random
 * bytes (342 base64url characters), random per session, so nothing compresses better than a
 * real token would.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { DEFAULT_CLAIM_MAPPING } from '../src/identity/identity.js';
import type { TokenSet } from '../src/oidc/tokenSet.js';
import { SessionService } from '../src/session/service.js';
import { MemoryStore } from '../src/store/memoryStore.js';
import { systemClock } from '../src/util/clock.js';

/** Token lengths aimed at (characters): a Keycloak-like access token, an ID token, an opaque refresh token. */
export const TOKEN_SIZES = { access: 1024, id: 1100, refresh: 43 } as const;

const ISSUER = 'https://login.example.com/realms/corp';
const CLIENT = 'gatehouse';
/** The IdP's signing key id: one per IdP, the same in every token (as in real life). */
const KID = randomBytes(16).toString('base64url');
const ROLE_POOL = [
  'offline_access',
  'uma_authorization',
  'default-roles-corp',
  'billing-viewer',
  'billing-editor',
  'reports-reader',
  'reports-admin',
  'support-agent',
  'deploy-staging',
  'deploy-production',
  'audit-log-reader',
  'feature-flags-editor',
  'customer-data-reader',
  'inventory-manager',
  'payroll-viewer',
  'crm-sales-rep',
  'crm-sales-manager',
  'docs-contributor',
  'wiki-editor',
  'on-call-primary',
];

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * An RS256 JWT of about `length` characters: `base` claims, then realm roles from the pool until
 * the token reaches the length (within one role name).
 */
function jwt(base: Record<string, unknown>, length: number): string {
  const head = b64({ alg: 'RS256', typ: 'JWT', kid: KID });
  const sig = randomBytes(256).toString('base64url');
  const roles: string[] = [];
  const make = () => `${head}.${b64(roles.length ? { ...base, realm_access: { roles } } : base)}.${sig}`;
  let token = make();
  for (let i = 0; token.length < length; i++) {
    roles.push(ROLE_POOL[i % ROLE_POOL.length]! + (i >= ROLE_POOL.length ? `-${i}` : ''));
    token = make();
  }
  return token;
}

/** The token set and ID token claims of user `i`'s sign-in, with fresh random ids and signatures. */
export function realisticSignIn(i: number): { tokens: TokenSet; claims: Record<string, unknown> } {
  const now = Math.floor(Date.now() / 1000);
  const sub = randomUUID();
  const sid = randomUUID();
  const user = {
    email_verified: true,
    name: `User ${i} Example`,
    preferred_username: `user${i}`,
    email: `user${i}@example.com`,
  };
  const common = { exp: now + 300, iat: now, iss: ISSUER, sub, azp: CLIENT, sid };
  const accessToken = jwt(
    {
      ...common,
      jti: randomUUID(),
      aud: CLIENT,
      typ: 'Bearer',
      scope: 'openid email profile offline_access',
      email_verified: true,
      preferred_username: user.preferred_username,
      email: user.email,
    },
    TOKEN_SIZES.access,
  );
  const idToken = jwt(
    {
      ...common,
      aud: CLIENT,
      auth_time: now,
      nonce: randomBytes(16).toString('base64url'),
      at_hash: randomBytes(16).toString('base64url'),
      ...user,
      groups: ['admins', 'dev'],
      roles: ['admin'],
    },
    TOKEN_SIZES.id,
  );
  const refreshToken = randomBytes(32).toString('base64url');
  // The claims a sign-in reads: the ID token's payload, parsed (as openid-client hands it over).
  const claims = JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Record<
    string,
    unknown
  >;
  return { tokens: { accessToken, idToken, refreshToken }, claims };
}

/** The memory store and session service as `createGateway` builds them (default claims, no idle timeout). */
export function memorySessions(maxSessions: number, secret: string) {
  const store = new MemoryStore({ maxSessions, clock: systemClock });
  const sessions = new SessionService(
    store,
    { secrets: [secret], maxAgeMs: 86_400_000, idleTimeoutMs: 0, claims: DEFAULT_CLAIM_MAPPING },
    systemClock,
  );
  return { store, sessions };
}

/**
 * Creates `n` sessions with realistic sign-ins (the granted scopes parsed from a token response's
 * `scope`, as the provider client does); returns the average token lengths used.
 */
export async function fillSessions(
  sessions: SessionService,
  n: number,
): Promise<{ access: number; id: number; refresh: number }> {
  let access = 0;
  let id = 0;
  let refresh = 0;
  for (let i = 0; i < n; i++) {
    const { tokens, claims } = realisticSignIn(i);
    access += tokens.accessToken.length;
    id += tokens.idToken!.length;
    refresh += tokens.refreshToken!.length;
    await sessions.create(
      {
        tokens,
        claims,
        accessExpiresAt: Date.now() + 3e5,
        accessLifetimeMs: 3e5,
        rotated: true,
        scopes: 'openid email profile offline_access'.split(' ').filter(Boolean),
      },
      sessions.identityFrom(claims),
    );
  }
  return { access: Math.round(access / n), id: Math.round(id / n), refresh: Math.round(refresh / n) };
}
