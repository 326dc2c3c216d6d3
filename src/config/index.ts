export { ConfigError, envNameFor, loadConfig } from './load.js';
export type { LoadOptions } from './load.js';
export { configSchema } from './schema.js';
export type { ConfigInput, GatehouseConfig, PathRule } from './schema.js';
