export { ConfigError } from './errors.js'
export { loadConfig, parseConfig } from './load-config.js'
export { interpolateEnv } from './interpolate-env.js'
export { readSettings, DEFAULT_PORTS, type Settings } from './settings.js'
