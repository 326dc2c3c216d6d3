import type { AssertionSigner } from '../assertion/signer.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { GatewayMetrics } from '../metrics.js';
import type { OidcProvider } from '../oidc/provider.js';
import type { RefreshCoordinator } from '../refresh/coordinator.js';
import type { RefreshSettings } from '../refresh/policy.js';
import type { SessionService } from '../session/service.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { CookieJar } from './cookies.js';
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
  /** Warns once when many browsers sign in from one address (a proxy missing from server.trustedProxies). */
  crowd: BrowserCrowdWatch;
  /** Signs X-Gatehouse-Assertion when `headers.assertion` is on (src/assertion/). */
  assertions?: AssertionSigner;
}
