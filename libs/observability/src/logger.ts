import { pino, type Logger, type DestinationStream } from 'pino'

export type { Logger } from 'pino'

export interface LoggerOptions {
  service: string
  level?: string
  /** Where to write (tests pass a sink to assert on parsed lines). Default: stdout. */
  destination?: DestinationStream
}

/**
 * The JSON logger of a sisporta service. Bind a load to a child logger so every line of that
 * load carries its stream and load id:
 *
 * @example
 * const log = createLogger({ service: 'persister' })
 * const loadLog = log.child({ stream: 'products', loadId: 42 })
 */
export function createLogger (options: LoggerOptions): Logger {
  return pino({
    level: options.level ?? 'info',
    base: { service: options.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['req.headers.authorization', 'token', '*.token', 'password', '*.password'], censor: '[redacted]' }
  }, options.destination)
}
