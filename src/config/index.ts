export type { LoadOptions } from './load.js';
export { ConfigError, envNameFor, loadConfig } from './load.js';
export type { ConfigInput, GatehouseConfig, PathRule } from './schema.js';
export { configSchema } from './schema.js';
