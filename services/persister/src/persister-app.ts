import type { NatsConnection } from 'nats'
import type { Registry } from 'prom-client'
import { createServiceApp, natsReadiness, type Logger, type Worker } from '@sisporta/observability'
import type { PersisterWorker } from './persister-worker.js'

/** The Fastify instance `createServiceApp` builds (typed without a direct fastify dependency). */
export type PersisterApp = Awaited<ReturnType<typeof createServiceApp>>

export interface PersisterAppDeps {
  readonly log: Logger
  readonly registry: Registry
  readonly nc: NatsConnection
  readonly worker: PersisterWorker
  /** Other work started and stopped with the app (the range comparisons of diffed reloads). */
  readonly workers?: readonly Worker[]
  /** `/metrics` on a port of its own (`SISPORTA_METRICS_PORT`). */
  readonly metricsListen?: { host: string, port: number } | undefined
}

/**
 * The persister's service shell: `/healthz`, `/readyz` (NATS connected — a client reconnecting to
 * a lost server is not ready, though not closed —, consumer loop running, MySQL answering) and
 * `/metrics`; the worker starts when the app is ready and is drained when it closes.
 *
 * @example
 * const app = await buildPersisterApp({ log, registry, nc, worker })
 * await app.listen({ port: 0 })
 */
export async function buildPersisterApp (deps: PersisterAppDeps): Promise<PersisterApp> {
  return await createServiceApp({
    log: deps.log,
    registry: deps.registry,
    workers: [deps.worker, ...(deps.workers ?? [])],
    metricsListen: deps.metricsListen,
    checks: {
      nats: natsReadiness(deps.nc),
      persister: async () => await deps.worker.ready()
    }
  })
}
