import { hostname } from 'node:os'
import { sql } from 'kysely'
import { busNames, type SisportaConfig } from '@sisporta/contracts'
import { DEFAULT_PORTS, busProvisioning, metricsListen, requireSetting, type Settings } from '@sisporta/config'
import { createDb, exactPoolOptions, isUnreachableDatabase } from '@sisporta/db'
import { LoadRegistry, busConnectOptions, connectBus, provisionBus } from '@sisporta/nats'
import { createMetricsRegistry, runService, type Logger } from '@sisporta/observability'
import { createPersisterMetrics } from './metrics.js'
import { createCompareResponder } from './compare-responder.js'
import { buildPersisterApp } from './persister-app.js'
import { createPersisterWorker } from './persister-worker.js'

/** Range comparisons one persister makes at once (a diffed reload asks for a few at a time). */
const COMPARE_CONCURRENCY = 2

/**
 * Runs the persister until SIGTERM / SIGINT. Settings are checked first (a bad one exits 2
 * before anything is reached); then its port (`SISPORTA_HTTP_PORT`, default 9101) is bound —
 * taken, it exits 1 at once — and `/healthz` answers while it connects to NATS (provisioning the
 * bus, which is idempotent) and MySQL, with `/readyz` saying what it waits for; then the consumer
 * loop starts. On a signal it stops pulling, lets in-flight batches commit and be acked, then
 * closes the pool and the NATS connection.
 *
 * @example
 * await runPersister(readSettings(), loadConfig('sisporta.yaml'), createLogger({ service: 'persister' }))
 */
export async function runPersister (settings: Settings, config: SisportaConfig, log: Logger): Promise<void> {
  const names = busNames(settings.namespace)
  const mysqlUrl = requireSetting(settings.mysqlUrl, 'SISPORTA_MYSQL_URL')
  const target = exactPoolOptions(mysqlUrl)
  const bus = busConnectOptions(settings.natsUrl, settings.nats).description
  const registry = createMetricsRegistry('persister')
  await runService({
    log,
    registry,
    host: settings.httpHost,
    port: settings.httpPort ?? DEFAULT_PORTS.persister,
    metricsListen: metricsListen(settings),
    start: async (startup) => {
      startup.waitFor(`NATS at ${bus.servers} (SISPORTA_NATS_URL)`)
      const nc = await connectBus({ url: settings.natsUrl, security: settings.nats, name: `sisporta-persister-${hostname()}`, log, onRetry: (err) => { startup.failedAttempt(err) } })
      startup.onClose(async () => { if (!nc.isClosed()) await nc.drain() })
      startup.waitFor('the bus to be provisioned (JetStream streams, consumer, load registry)')
      await provisionBus(nc, names, { ...busProvisioning(settings), log })
      const loads = await LoadRegistry.bind(nc, names, {
        onUntrusted: (key, reason) => { log.warn({ key, reason, code: 'SIS_BUS_LOAD_UNTRUSTED' }, 'refusing an untrusted load record') }
      })
      // The worker owns its pool; this one only tells whether MySQL takes this login at all, so
      // that a wrong password or database stops the process instead of every batch waiting.
      const probe = createDb(mysqlUrl, { poolSize: 1 })
      try {
        await startup.retry(`MySQL at ${target.host ?? ''}:${target.port ?? 3306} (SISPORTA_MYSQL_URL)`, async () => await sql`SELECT 1`.execute(probe), { isTransient: isUnreachableDatabase })
      } finally {
        await probe.destroy()
      }
      const worker = createPersisterWorker({
        nc,
        names,
        config,
        registry: loads,
        mysqlUrl,
        concurrency: settings.persisterConcurrency,
        maxDeliver: settings.maxDeliver,
        log,
        metrics: createPersisterMetrics(registry),
        ...(settings.testPauseBeforeAck !== undefined ? { testPauseBeforeAck: settings.testPauseBeforeAck } : {})
      })
      // diffed reloads and `verify`: range comparisons, on a small pool of their own
      const compareDb = createDb(mysqlUrl, { poolSize: COMPARE_CONCURRENCY })
      startup.onClose(async () => { await compareDb.destroy() })
      const comparer = createCompareResponder({ nc, names, config, registry: loads, db: compareDb, concurrency: COMPARE_CONCURRENCY, log })
      return await buildPersisterApp({ log, registry, nc, worker, workers: [comparer], metricsListen: metricsListen(settings) })
    }
  })
}
