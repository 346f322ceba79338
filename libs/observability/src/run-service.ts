import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'

export interface RunServiceOptions {
  app: FastifyInstance
  log: Logger
  host: string
  port: number
  /** Called after the app closed (drop connections the app does not own). */
  onClosed?: () => Promise<void>
  /** How long in-flight work may take to drain on SIGTERM before the process exits anyway (ms). */
  graceMs?: number
}

/**
 * Listens, and on SIGTERM / SIGINT closes the app (draining its workers) within the grace
 * period, then exits. An uncaught error also closes gracefully, then exits non-zero.
 */
export async function runService (options: RunServiceOptions): Promise<void> {
  const { app, log } = options
  const closer = closeWithGrace({ delay: options.graceMs ?? 25_000 }, async ({ signal, err }) => {
    if (err !== undefined) log.error({ err }, 'stopping after an unexpected error')
    else log.info({ signal }, 'stopping')
    await app.close()
    await options.onClosed?.()
    log.info('stopped')
  })
  let address: string
  try {
    address = await app.listen({ host: options.host, port: options.port })
  } catch (err) {
    // Otherwise the exit hook would end the process with 0 although the service never started.
    closer.uninstall()
    await app.close()
    await options.onClosed?.()
    throw err
  }
  log.info({ address }, 'listening')
}
