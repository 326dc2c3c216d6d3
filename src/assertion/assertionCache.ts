import type { Identity } from '../identity/identity.js';
import type { Clock } from '../util/clock.js';
import { BoundedTtlMap } from '../util/lru.js';
import type { AssertionSigner, SignedAssertion } from './signer.js';

/** Route ids remembered per principal object; beyond it the oldest is signed again when next asked for. */
const ROUTES_PER_PRINCIPAL = 16;
/** Sessions (× routes) whose assertions are remembered by name; the least recently used go first. */
const NAMED_ENTRIES = 10_000;

interface Entry {
  signed: Promise<SignedAssertion>;
  /** Signed again from here on (ms since the epoch): half the lifetime after issue. */
  freshUntil: number;
}

/**
 * Who an assertion is for: an object that stands for the principal (a cached bearer credential:
 * kept in a WeakMap, so it holds nothing alive), or a name that changes whenever what the
 * assertion says may change — a session's store key with its record version. A session is named,
 * not keyed by its record object, because a networked store hands out a new record object at
 * every read past its L1 cache (every request with `session.cacheTtlMs: 0`); a refresh writes a
 * new version, so a refreshed session gets a new assertion at once.
 */
export type AssertionPrincipal = object | string;

/**
 * Assertions per principal and route id, so signing is not on every request's path. An assertion
 * is signed again once less than half its lifetime is left (an upstream always gets one it can
 * use for a while); concurrent requests share one signing; a failed signing is not remembered.
 */
export class AssertionCache {
  private byObject = new WeakMap<object, Map<string, Entry>>();
  private readonly byName: BoundedTtlMap<string, Entry>;

  constructor(
    private readonly signer: AssertionSigner,
    private readonly clock: Clock,
  ) {
    this.byName = new BoundedTtlMap(NAMED_ENTRIES, () => clock.now());
  }

  get(principal: AssertionPrincipal, identity: Identity, routeId: string): Promise<SignedAssertion> {
    return typeof principal === 'string'
      ? this.named(`${principal}\u0000${routeId}`, identity, routeId)
      : this.forObject(principal, identity, routeId);
  }

  private named(name: string, identity: Identity, routeId: string): Promise<SignedAssertion> {
    const hit = this.byName.get(name);
    if (hit) return hit.signed;
    const entry = this.sign(identity, routeId, () => {
      if (this.byName.peek(name) === entry) this.byName.delete(name);
    });
    this.byName.set(name, entry, this.signer.lifetimeMs / 2);
    return entry.signed;
  }

  private forObject(principal: object, identity: Identity, routeId: string): Promise<SignedAssertion> {
    let routes = this.byObject.get(principal);
    if (!routes) {
      routes = new Map();
      this.byObject.set(principal, routes);
    }
    const hit = routes.get(routeId);
    if (hit && this.clock.now() < hit.freshUntil) return hit.signed;
    routes.delete(routeId);
    while (routes.size >= ROUTES_PER_PRINCIPAL) routes.delete(routes.keys().next().value!);
    const map = routes;
    const entry = this.sign(identity, routeId, () => {
      if (map.get(routeId) === entry) map.delete(routeId);
    });
    routes.set(routeId, entry);
    return entry.signed;
  }

  private sign(identity: Identity, routeId: string, forget: () => void): Entry {
    const signed = this.signer.sign(identity, routeId);
    signed.catch(forget);
    return { signed, freshUntil: this.clock.now() + this.signer.lifetimeMs / 2 };
  }

  /** Forgets every assertion (a reloaded configuration: headers are made afresh). */
  clear(): void {
    this.byObject = new WeakMap();
    this.byName.clear();
  }
}
