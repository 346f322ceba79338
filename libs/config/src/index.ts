export { ConfigError } from './errors.js'
export { loadConfig, parseConfig } from './load-config.js'
export { interpolateEnv } from './interpolate-env.js'
export { readSettings, requireSetting, metricsListen, DEFAULT_PORTS, type Settings, type NatsSecuritySettings } from './settings.js'
