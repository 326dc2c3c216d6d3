export type { ConfigInput, GatehouseConfig } from './config/index.js';
export { ConfigError, loadConfig } from './config/index.js';
export type { GatewayCore, GatewayOptions } from './core/gatewayCore.js';
export { createGatewayCore } from './core/gatewayCore.js';
export type { Decision } from './engine/decision.js';
export { Engine } from './engine/engine.js';
export type { RequestFacts } from './engine/facts.js';
export type { Gateway } from './gateway.js';
export { createGateway } from './gateway.js';
export type {
  GatehouseMiddleware,
  GatehouseRequest,
  MiddlewareOptions,
  NextFunction,
} from './http/middleware.js';
export { createGatehouseMiddleware } from './http/middleware.js';
export type { Identity } from './identity/identity.js';
export type { Clock } from './util/clock.js';
export { ManualClock, systemClock } from './util/clock.js';
