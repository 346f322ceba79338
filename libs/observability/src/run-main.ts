import { createLogger, type Logger } from './logger.js'

/**
 * The whole of a service's `main.ts`: `start` reads the settings, builds its logger with
 * `logger(level)` and runs the service. When start-up fails, the error is logged (fatal, with its
 * code), said in one line on stderr — `sisporta reconciler: port 9102 on 0.0.0.0 is already in
 * use (SISPORTA_HTTP_PORT)… [SIS_SVC_PORT_IN_USE]` — and the process exits at once with the
 * error's exit code (2 when a setting must change, otherwise 1): nothing left open may keep a
 * service that cannot do its job alive and silent.
 *
 * @example
 * await runMain('reconciler', async (logger) => {
 *   const settings = readSettings()
 *   await runReconciler(settings, loadConfig(settings.configFile), logger(settings.logLevel))
 * })
 */
export async function runMain (service: string, start: (logger: (level: string) => Logger) => Promise<void>): Promise<void> {
  let log = createLogger({ service })
  try {
    await start((level) => (log = createLogger({ service, level })))
  } catch (err) {
    const e = err as { code?: unknown, message?: unknown, exitCode?: unknown } | undefined
    log.fatal({ err, code: e?.code }, `${service} could not start`)
    process.stderr.write(`sisporta ${service}: ${typeof e?.message === 'string' ? e.message : String(err)}${typeof e?.code === 'string' ? ` [${e.code}]` : ''}\n`)
    process.exit(e?.exitCode === 2 ? 2 : 1)
  }
}
