import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { reservePort, type PortReservation } from './reserve-port.js'
import { healthPlugin } from './service-app.js'
import { StartupState, type Startup } from './startup.js'

export interface RunServiceOptions {
  readonly log: Logger
  /** The service's metrics, served while it starts too. */
  readonly registry: Registry
  readonly host: string
  readonly port: number
  /** The setting the port comes from (default `SISPORTA_HTTP_PORT`), named when it is taken. */
  readonly portSetting?: string
  /** `/metrics` on a port of its own (`SISPORTA_METRICS_PORT`); the app must be built with the same. */
  readonly metricsListen?: { host: string, port: number } | undefined
  /** Serve HTTPS with this PEM certificate and key. */
  readonly https?: { key: string | Buffer, cert: string | Buffer } | null | undefined
  /** Longest time to receive a whole request (ms; default none). */
  readonly requestTimeoutMs?: number
  /** How long in-flight work may take to drain on SIGTERM before the process exits anyway (ms). */
  readonly graceMs?: number
  /**
   * Connects (NATS, MySQL, the source) and builds the service's app, once its ports are bound.
   * Tell `startup` what it waits for, and register with `startup.onClose` what must be closed
   * after the app (connections the app does not own). The app is not listening: the shell
   * serves it on the port it already holds, once `app.ready()` (which starts the workers) resolved.
   */
  start (startup: Startup): Promise<FastifyInstance>
}

/**
 * Runs a service: binds its port (and `SISPORTA_METRICS_PORT`) first, so that a taken port
 * stops the process at once with `SIS_SVC_PORT_IN_USE` naming the port and its setting; serves
 * `/healthz` (200) and `/readyz` (503, saying what it waits for) while `start` connects; then
 * hands the port to the app. On SIGTERM / SIGINT it closes the app (draining its workers), then
 * what start-up opened, within the grace period, and exits. A failed start-up closes everything
 * it opened and rejects with the error, whose `exitCode` the caller exits with.
 *
 * @example
 * await runService({ log, registry, host: '0.0.0.0', port: 9102, start: async (startup) => {
 *   startup.waitFor('NATS (SISPORTA_NATS_URL)')
 *   const nc = await connectBus({ … })
 *   startup.onClose(() => nc.drain())
 *   return await buildReconcilerApp({ … })
 * } })
 */
export async function runService (options: RunServiceOptions): Promise<void> {
  const { log } = options
  const startup = new StartupState(log)
  const ports: PortReservation[] = []
  let starting: FastifyInstance | undefined
  let app: FastifyInstance | undefined
  const closeAll = async (): Promise<void> => {
    await app?.close()
    await starting?.close()
    await startup.close()
    for (const port of ports.splice(0).reverse()) await port.close()
  }
  const closer = closeWithGrace({ delay: options.graceMs ?? 25_000, logger: false }, async ({ signal, err }) => {
    if (err !== undefined) log.error({ err }, 'stopping after an unexpected error')
    else log.info({ signal }, 'stopping')
    await closeAll()
    log.info('stopped')
  })
  try {
    const main = await reservePort({
      host: options.host,
      port: options.port,
      setting: options.portSetting ?? 'SISPORTA_HTTP_PORT',
      https: options.https,
      requestTimeoutMs: options.requestTimeoutMs
    })
    ports.push(main)
    const apart = options.metricsListen
    if (apart !== undefined) {
      const metricsPort = await reservePort({ host: apart.host, port: apart.port, setting: 'SISPORTA_METRICS_PORT' })
      ports.push(metricsPort)
      metricsPort.serve(metricsOnly(options.registry))
    }
    starting = Fastify({ loggerInstance: log as FastifyBaseLogger }) as unknown as FastifyInstance
    await starting.register(healthPlugin, { registry: options.registry, checks: { starting: startup.check }, metrics: apart === undefined })
    // Any other route is the service's own, not served yet: 503 with Retry-After, which clients
    // retry (a 404 would tell the extractor its batch was refused for good).
    starting.setNotFoundHandler((_req, reply) => {
      void reply.code(503).header('retry-after', '1').send({ statusCode: 503, code: 'SIS_SVC_STARTING', error: 'Service Unavailable', message: `${startup.check()}: try again shortly` })
    })
    await starting.ready()
    main.serve(starting.routing)
    log.info({ address: main.address }, 'listening')
    app = await options.start(startup)
    await app.ready()
    main.serve(app.routing)
    await starting.close()
    starting = undefined
    log.info({ address: main.address }, 'ready')
  } catch (err) {
    // Otherwise the exit hook would end the process with 0 although the service never started;
    // and nothing start-up opened may keep the failed process alive.
    closer.uninstall()
    await closeAll().catch((closeErr: unknown) => log.warn({ err: closeErr }, 'closing after a failed start-up failed'))
    throw err
  }
}

/** The metrics port while the service starts (its app takes it over once ready). */
function metricsOnly (registry: Registry): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end('{"status":"not found"}')
      return
    }
    registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': registry.contentType }).end(text)
    }, (err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(String((err as Error).message))
    })
  }
}
