import type { AssertionSigner } from '../assertion/signer.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { HeaderTemplates } from '../identity/headerTemplates.js';
import type { GatewayMetrics } from '../metrics.js';
import type { OidcProvider } from '../oidc/provider.js';
import type { RefreshCoordinator } from '../refresh/coordinator.js';
import type { RefreshSettings } from '../refresh/policy.js';
import type { RouteTable } from '../routes/routeTable.js';
import type { SessionService } from '../session/service.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { Tracing } from '../util/tracing.js';
import type { CookieJar } from './cookies.js';
import type { HandoffTickets } from './handoff.js';
import type { LoginCookieCodec } from './loginCookie.js';
import type { BrowserCrowdWatch } from './loginLimits.js';

/** Everything the engine's parts share; side effects (store, IdP, clock) come in through here. */
export interface EngineContext {
  cfg: GatehouseConfig;
  sessions: SessionService;
  provider: OidcProvider;
  refresh: RefreshCoordinator;
  refreshSettings: RefreshSettings;
  clock: Clock;
  logger: Logger;
  metrics: GatewayMetrics;
  /** Cookie names and flags, fixed by publicUrl's scheme (https → `__Host-`, Secure). */
  jar: CookieJar;
  loginCookies: LoginCookieCodec;
  /** The applications behind the gateway (one, without `routes`); rebuilt on reconfigure. */
  routes: RouteTable;
  /** publicUrl's host name, lower-cased: where the callback and the first session cookie live. */
  publicHostName: string;
  /** Cross-host sign-in tickets (handoff.ts), sealed under the session secret. */
  handoff: HandoffTickets;
  /** Warns once when many browsers sign in from one address (a proxy missing from server.trustedProxies). */
  crowd: BrowserCrowdWatch;
  /** `headers.templates`, parsed once at start (restart-only: a reload keeps these). */
  headerTemplates: HeaderTemplates;
  /** Signs X-Gatehouse-Assertion when `headers.assertion` is on (src/assertion/). */
  assertions?: AssertionSigner;
  /** Spans for decisions (`gatehouse.decision`); absent or off: none (util/tracing.ts). */
  tracing?: Tracing;
}
