import { sql, type Kysely } from 'kysely'
import type { NatsConnection } from 'nats'
import type { Registry } from 'prom-client'
import type { SisportaDatabase } from '@sisporta/db'
import { createServiceApp, natsReadiness, type Logger, type Worker } from '@sisporta/observability'

export interface ReconcilerAppDeps {
  readonly log: Logger
  readonly registry: Registry
  readonly worker: Worker
  readonly nc: NatsConnection
  readonly db: Kysely<SisportaDatabase>
  /** `/metrics` on a port of its own (`SISPORTA_METRICS_PORT`). */
  readonly metricsListen?: { host: string, port: number } | undefined
}

/**
 * The reconciler's Fastify shell: health, readiness (NATS connected — a client reconnecting to a
 * lost server is not ready, though not closed — and MySQL answering), metrics, and the worker.
 */
export async function buildReconcilerApp (deps: ReconcilerAppDeps): Promise<Awaited<ReturnType<typeof createServiceApp>>> {
  return await createServiceApp({
    log: deps.log,
    registry: deps.registry,
    workers: [deps.worker],
    metricsListen: deps.metricsListen,
    checks: {
      nats: natsReadiness(deps.nc),
      mysql: async (): Promise<true> => {
        await sql`SELECT 1`.execute(deps.db)
        return true
      }
    }
  })
}
