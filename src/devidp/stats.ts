// Counters behind GET /__admin/stats. The shape is a contract with other tooling (benchmarks
// count IdP grants per expiry event from it), so it is built explicitly, never by spreading.
import type { DevIdpStats } from './types.js';

export type RequestKind = keyof DevIdpStats['requests'];
export type GrantKind = keyof DevIdpStats['grants'];

/** Every grant counter at zero: the one list of grant kinds (start and reset). */
function noGrants(): DevIdpStats['grants'] {
  return {
    authorization_code: 0,
    refresh_token: 0,
    client_credentials: 0,
    token_exchange: 0,
    device_code: 0,
  };
}

/** Every endpoint counter at zero: the one list of endpoints (start and reset). */
function noRequests(): DevIdpStats['requests'] {
  return {
    authorize: 0,
    token: 0,
    userinfo: 0,
    jwks: 0,
    discovery: 0,
    introspect: 0,
    register: 0,
    graph: 0,
    device_authorization: 0,
    par: 0,
  };
}

/** Every fault endpoint at zero fired. */
function noFaults(): DevIdpStats['faults'] {
  return {
    token: { fired: 0 },
    userinfo: { fired: 0 },
    jwks: { fired: 0 },
    discovery: { fired: 0 },
    introspect: { fired: 0 },
    authorize: { fired: 0 },
  };
}

export class Stats {
  #grants = noGrants();
  #errors = new Map<string, number>();
  #registrations = 0;
  #requests = noRequests();
  #faults = noFaults();

  faultFired(endpoint: keyof DevIdpStats['faults']): void {
    this.#faults[endpoint].fired++;
  }

  request(kind: RequestKind): void {
    this.#requests[kind]++;
  }

  grant(kind: GrantKind): void {
    this.#grants[kind]++;
  }

  registered(): void {
    this.#registrations++;
  }

  error(code: string): void {
    this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1);
  }

  /** A copy: callers may keep or mutate it without touching the live counters. */
  snapshot(): DevIdpStats {
    return {
      grants: { ...this.#grants },
      errors: Object.fromEntries(this.#errors),
      requests: { ...this.#requests },
      registrations: this.#registrations,
      faults: Object.fromEntries(
        Object.entries(this.#faults).map(([k, v]) => [k, { ...v }]),
      ) as DevIdpStats['faults'],
    };
  }

  reset(): void {
    this.#grants = noGrants();
    this.#errors = new Map();
    this.#registrations = 0;
    this.#requests = noRequests();
    this.#faults = noFaults();
  }
}
