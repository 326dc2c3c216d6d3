import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Identity } from '../identity/identity.js';
import type { Clock } from '../util/clock.js';
import type { AssertionKeySet } from './keySet.js';
import type { AssertionClaim, AssertionSettings } from './settings.js';

/** A signed assertion and when it was issued (ms since the epoch, whole seconds). */
export interface SignedAssertion {
  token: string;
  issuedAt: number;
  expiresAt: number;
}

/**
 * Signs identity assertions: `iss` is publicUrl exactly as configured (an upstream compares it
 * as a string), `aud` the route id, the identity claims that `headers.assertionClaims` names,
 * `iat`, `exp` = iat + lifetime and a random `jti`.
 */
export class AssertionSigner {
  readonly lifetimeMs: number;
  private readonly claims: ReadonlySet<AssertionClaim>;

  constructor(
    readonly keys: AssertionKeySet,
    private readonly issuer: string,
    settings: Pick<AssertionSettings, 'assertionClaims' | 'assertionLifetimeSeconds'>,
    private readonly clock: Clock,
  ) {
    this.lifetimeMs = settings.assertionLifetimeSeconds * 1000;
    this.claims = new Set(settings.assertionClaims);
  }

  async sign(identity: Identity, routeId: string): Promise<SignedAssertion> {
    const iat = Math.floor(this.clock.now() / 1000);
    const exp = iat + this.lifetimeMs / 1000;
    const { signing } = this.keys;
    const token = await new SignJWT(this.payload(identity))
      .setProtectedHeader({ alg: signing.alg, kid: signing.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(routeId)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomBytes(12).toString('base64url'))
      .sign(signing.key);
    return { token, issuedAt: iat * 1000, expiresAt: exp * 1000 };
  }

  /** The configured identity claims; absent values are left out, never sent empty. */
  private payload(id: Identity): Record<string, unknown> {
    const c = this.claims;
    const out: Record<string, unknown> = {};
    if (c.has('sub')) out.sub = id.sub;
    if (c.has('email') && id.email !== undefined) out.email = id.email;
    if (c.has('groups')) out.groups = id.groups;
    if (c.has('roles')) out.roles = id.roles;
    if (c.has('name') && id.name !== undefined) out.name = id.name;
    if (c.has('preferred_username') && id.preferredUsername !== undefined)
      out.preferred_username = id.preferredUsername;
    return out;
  }
}
