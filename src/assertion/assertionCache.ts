import type { Identity } from '../identity/identity.js';
import type { Clock } from '../util/clock.js';
import type { AssertionSigner, SignedAssertion } from './signer.js';

/** Route ids remembered per principal; beyond it the oldest is signed again when next asked for. */
const ROUTES_PER_PRINCIPAL = 16;

interface Entry {
  signed: Promise<SignedAssertion>;
  /** Signed again from here on (ms since the epoch): half the lifetime after issue. */
  freshUntil: number;
}

/**
 * Assertions per principal and route id, so signing is not on every request's path. A principal
 * is the object that stands for it (a session record, a cached bearer credential): a refreshed
 * session is a new record object, so its assertions go with the old one, and the WeakMap holds
 * no principal alive. An assertion is signed again once less than half its lifetime is left (an
 * upstream always gets one it can use for a while); concurrent requests share one signing.
 */
export class AssertionCache {
  private entries = new WeakMap<object, Map<string, Entry>>();

  constructor(
    private readonly signer: AssertionSigner,
    private readonly clock: Clock,
  ) {}

  get(principal: object, identity: Identity, routeId: string): Promise<SignedAssertion> {
    let routes = this.entries.get(principal);
    if (!routes) {
      routes = new Map();
      this.entries.set(principal, routes);
    }
    const now = this.clock.now();
    const hit = routes.get(routeId);
    if (hit && now < hit.freshUntil) return hit.signed;
    routes.delete(routeId);
    while (routes.size >= ROUTES_PER_PRINCIPAL) routes.delete(routes.keys().next().value!);
    const signed = this.signer.sign(identity, routeId);
    const entry: Entry = { signed, freshUntil: now + this.signer.lifetimeMs / 2 };
    routes.set(routeId, entry);
    // A failed signing is not remembered: the next request tries again.
    signed.catch(() => {
      if (routes.get(routeId) === entry) routes.delete(routeId);
    });
    return signed;
  }

  /** Forgets every assertion (a reloaded configuration: headers are made afresh). */
  clear(): void {
    this.entries = new WeakMap();
  }
}
