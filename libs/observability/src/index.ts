export { createLogger, type Logger, type LoggerOptions } from './logger.js'
export { createMetricsRegistry } from './metrics.js'
export { createServiceApp, healthPlugin, type Worker, type ReadinessCheck, type ServiceAppOptions, type HealthOptions } from './service-app.js'
export { runService, type RunServiceOptions } from './run-service.js'
