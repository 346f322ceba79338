import type { FastifyInstance } from 'fastify'
import type { NatsConnection } from 'nats'
import type { Registry } from 'prom-client'
import { createServiceApp, natsReadiness, type Logger } from '@sisporta/observability'
import type { AdminVerifier } from './admin-auth.js'
import { loadAssets } from './assets.js'
import { consoleRoutes } from './console-routes.js'
import type { ConsoleActions, ConsoleReads } from './operations.js'
import type { Sampler } from './samples.js'

export interface ConsoleAppDeps {
  readonly log: Logger
  readonly registry: Registry
  readonly verify: AdminVerifier
  readonly reads: ConsoleReads
  readonly actions: ConsoleActions
  readonly sampler: Sampler
  readonly namespace: string
  readonly streams: ReadonlyArray<{ name: string, target: { table: string }, deletes: string }>
  /** For `/readyz`; tests without a bus leave it out. */
  readonly nc?: NatsConnection | undefined
  readonly metricsListen?: { host: string, port: number } | undefined
  readonly https?: { key: string | Buffer, cert: string | Buffer } | null | undefined
}

/**
 * The console's Fastify app: the service shell (health, readiness, metrics; the sampler as its
 * worker) and the console's pages and API behind the admin token.
 *
 * @example
 * const app = await buildConsoleApp({ log, registry, verify, reads, actions, sampler, namespace: 'sisporta', streams: config.streams })
 * await app.inject({ url: '/api/state', headers: { authorization: `Bearer ${adminToken}` } })
 */
export async function buildConsoleApp (deps: ConsoleAppDeps): Promise<FastifyInstance> {
  const app = await createServiceApp({
    log: deps.log,
    registry: deps.registry,
    workers: [deps.sampler],
    metricsListen: deps.metricsListen,
    checks: deps.nc === undefined ? {} : { nats: natsReadiness(deps.nc) },
    fastify: { bodyLimit: 64 * 1024, ...(deps.https != null ? { https: deps.https } : {}) }
  })
  await app.register(consoleRoutes, {
    verify: deps.verify,
    reads: deps.reads,
    actions: deps.actions,
    sampler: deps.sampler,
    namespace: deps.namespace,
    streams: deps.streams,
    assets: loadAssets(),
    log: deps.log
  })
  return app
}
