// The people who can log in. Defaults cover the three cases every gateway test needs: an admin
// in several groups (alice), a plain member (bob) and an outsider with no groups and a foreign
// e-mail domain (carol).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { DevUser } from './types.js';

function frozenUser(u: DevUser): DevUser {
  return Object.freeze({
    ...u,
    groups: Object.freeze([...u.groups]),
    roles: Object.freeze([...u.roles]),
  }) as DevUser;
}

// Subjects differ from usernames on purpose: code that confuses the two breaks visibly.
export const DEFAULT_USERS: readonly DevUser[] = Object.freeze(
  [
    {
      sub: 'usr_alice',
      username: 'alice',
      email: 'alice@example.com',
      email_verified: true,
      name: 'Alice Admin',
      groups: ['admins', 'dev'],
      roles: ['admin'],
    },
    {
      sub: 'usr_bob',
      username: 'bob',
      email: 'bob@example.com',
      email_verified: true,
      name: 'Bob Builder',
      groups: ['dev'],
      roles: [],
    },
    {
      sub: 'usr_carol',
      username: 'carol',
      email: 'carol@other.example',
      email_verified: true,
      name: 'Carol Contractor',
      groups: [],
      roles: [],
    },
  ].map(frozenUser),
);

const userSchema = z.object({
  sub: z.string().min(1),
  username: z.string().min(1),
  email: z.string().min(1),
  email_verified: z.boolean().optional(),
  hd: z.string().min(1).optional(),
  name: z.string(),
  groups: z.array(z.string()).default([]),
  roles: z.array(z.string()).default([]),
  tid: z.string().min(1).optional(),
});
const usersSchema = z.array(userSchema).min(1, 'at least one user is required');

function toDevUser(u: z.infer<typeof userSchema>): DevUser {
  const { email_verified, hd, tid, ...rest } = u;
  return {
    ...rest,
    ...(email_verified === undefined ? {} : { email_verified }),
    ...(hd === undefined ? {} : { hd }),
    ...(tid === undefined ? {} : { tid }),
  };
}

/** Users added at runtime (POST /__admin/users, DevIdp.addUser) may not grow without bound. */
export const MAX_USERS = 1000;

export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    /** 'duplicate': the username or sub is taken (HTTP 409); 'invalid': a bad entry (400). */
    readonly kind: 'invalid' | 'duplicate',
  ) {
    super(message);
  }
}

/** Validates users from code or a JSON file; errors name the source so a bad file is obvious. */
export function loadUsers(source: readonly DevUser[] | string | undefined): DevUser[] {
  if (source === undefined)
    return DEFAULT_USERS.map((u) => ({ ...u, groups: [...u.groups], roles: [...u.roles] }));
  let raw: unknown = source;
  let origin = 'users option';
  if (typeof source === 'string') {
    origin = `users file ${source}`;
    try {
      raw = JSON.parse(readFileSync(source, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read ${origin}: ${(err as Error).message}`);
    }
  }
  const parsed = usersSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid ${origin}: ${z.prettifyError(parsed.error)}`);
  const users: DevUser[] = parsed.data.map(toDevUser);
  for (const key of ['sub', 'username'] as const) {
    const seen = new Set<string>();
    for (const u of users) {
      const v = key === 'username' ? u.username.toLowerCase() : u.sub;
      if (seen.has(v)) throw new Error(`invalid ${origin}: duplicate ${key} "${u[key]}"`);
      seen.add(v);
    }
  }
  return users;
}

export class UserDirectory {
  readonly #users: DevUser[];

  constructor(users: readonly DevUser[]) {
    this.#users = [...users];
  }

  /**
   * Adds one user (same shape as a --users FILE entry) who can log in at once. Throws UserError:
   * 'duplicate' when the username (case-insensitive) or sub is taken, 'invalid' otherwise.
   */
  add(raw: unknown): DevUser {
    const parsed = userSchema.safeParse(raw);
    if (!parsed.success) throw new UserError(`invalid user: ${z.prettifyError(parsed.error)}`, 'invalid');
    const user = frozenUser(toDevUser(parsed.data));
    const name = user.username.toLowerCase();
    if (this.#users.some((u) => u.username.toLowerCase() === name)) {
      throw new UserError(`a user named "${user.username}" exists already`, 'duplicate');
    }
    if (this.#users.some((u) => u.sub === user.sub)) {
      throw new UserError(`a user with sub "${user.sub}" exists already`, 'duplicate');
    }
    if (this.#users.length >= MAX_USERS) {
      throw new UserError(`at most ${MAX_USERS} users; no more can be added`, 'invalid');
    }
    this.#users.push(user);
    return user;
  }

  list(): readonly DevUser[] {
    return this.#users;
  }

  /** Finds by username or e-mail (case-insensitive) or exact sub: login hints come in all three. */
  find(hint: string): DevUser | undefined {
    const h = hint.trim().toLowerCase();
    if (h === '') return undefined;
    return this.#users.find(
      (u) => u.username.toLowerCase() === h || u.email.toLowerCase() === h || u.sub === hint,
    );
  }

  bySub(sub: string): DevUser | undefined {
    return this.#users.find((u) => u.sub === sub);
  }
}
