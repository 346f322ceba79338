import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Registry } from 'prom-client'
import type { Logger } from 'pino'
import { reservedPort } from './reserve-port.js'

/** A long-running part of a service (a consumer loop, a watcher), started and drained with it. */
export interface Worker {
  readonly name: string
  start(): Promise<void>
  /** Finish or hand back in-flight work, never lose it. */
  stop(): Promise<void>
}

/** A readiness check: resolves to `true` when ready, or a reason why not. */
export type ReadinessCheck = () => Promise<true | string> | true | string

export interface HealthOptions {
  registry: Registry
  checks: Record<string, ReadinessCheck>
  /** Serve `/metrics` here too (default true; false when it has a port of its own). */
  metrics?: boolean
}

/**
 * `/healthz` (the process is alive), `/readyz` (every check passes: 200, otherwise 503 naming
 * the failing checks) and `/metrics` (Prometheus text format).
 */
export const healthPlugin = fp<HealthOptions>(async (app, options) => {
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }))
  app.get('/readyz', { logLevel: 'warn' }, async (_req, reply) => {
    const failing: Record<string, string> = {}
    for (const [name, check] of Object.entries(options.checks)) {
      try {
        const result = await check()
        if (result !== true) failing[name] = result
      } catch (err) {
        failing[name] = (err as Error).message
      }
    }
    if (Object.keys(failing).length > 0) return await reply.code(503).send({ status: 'not ready', failing })
    return { status: 'ready' }
  })
  if (options.metrics !== false) metricsRoute(app, options.registry)
}, { name: 'sisporta-health' })

function metricsRoute (app: FastifyInstance, registry: Registry): void {
  app.get('/metrics', { logLevel: 'warn' }, async (_req, reply) => {
    return await reply.type(registry.contentType).send(await registry.metrics())
  })
}

export interface ServiceAppOptions {
  log: Logger
  registry: Registry
  checks?: Record<string, ReadinessCheck>
  workers?: Worker[]
  /**
   * Serve `/metrics` on its own port instead of the service's (`SISPORTA_METRICS_PORT`): the
   * gateway's public port then exposes nothing about the system's internals. It listens once the
   * app is ready and closes with it.
   */
  metricsListen?: { host: string, port: number } | undefined
  /** Server options the services tune (the gateway's body limit and TLS). */
  fastify?: {
    bodyLimit?: number
    requestTimeout?: number
    https?: { key: string | Buffer, cert: string | Buffer } | null
  }
}

/**
 * The shell every sisporta service shares: a Fastify instance serving health and metrics,
 * whose workers start when the app is ready and are drained when it closes. The gateway adds
 * its ingestion routes to the same instance.
 *
 * @example
 * const app = await createServiceApp({ log, registry, workers: [consumer], checks: { nats: natsReadiness(nc) } })
 * await app.listen({ host: '0.0.0.0', port: 9101 }) // or let `runService` serve it
 */
export async function createServiceApp (options: ServiceAppOptions): Promise<FastifyInstance> {
  const { https, ...rest } = options.fastify ?? {}
  const app = Fastify({
    loggerInstance: options.log as FastifyBaseLogger,
    ...rest,
    ...(https != null ? { https } : {})
  }) as unknown as FastifyInstance
  const apart = options.metricsListen
  await app.register(healthPlugin, { registry: options.registry, checks: options.checks ?? {}, metrics: apart === undefined })
  if (apart !== undefined) {
    const metricsApp = Fastify({ loggerInstance: options.log as FastifyBaseLogger }) as unknown as FastifyInstance
    metricsRoute(metricsApp, options.registry)
    app.addHook('onReady', async () => {
      // `runService` bound the port before connecting anything: serve through it, not bind it twice
      const held = reservedPort(apart.host, apart.port)
      if (held !== undefined) {
        await metricsApp.ready()
        held.serve(metricsApp.routing)
        options.log.info({ address: held.address }, 'serving /metrics on its own port')
        return
      }
      const address = await metricsApp.listen({ host: apart.host, port: apart.port })
      options.log.info({ address }, 'serving /metrics on its own port')
    })
    app.addHook('onClose', async () => { await metricsApp.close() })
  }
  const workers = options.workers ?? []
  app.addHook('onReady', async () => {
    for (const worker of workers) {
      await worker.start()
      options.log.info({ worker: worker.name }, 'worker started')
    }
  })
  app.addHook('onClose', async () => {
    for (const worker of [...workers].reverse()) {
      await worker.stop()
      options.log.info({ worker: worker.name }, 'worker stopped')
    }
  })
  return app
}
