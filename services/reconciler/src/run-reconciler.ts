import { hostname } from 'node:os'
import { sql } from 'kysely'
import { DEFAULT_PORTS, busProvisioning, metricsListen, requireSetting, type Settings } from '@sisporta/config'
import { busNames, type SisportaConfig } from '@sisporta/contracts'
import { createDb, exactPoolOptions, isUnreachableDatabase } from '@sisporta/db'
import { busConnectOptions, connectBus, LoadRegistry, provisionBus } from '@sisporta/nats'
import { createMetricsRegistry, runService, type Logger } from '@sisporta/observability'
import { buildReconcilerApp } from './app.js'
import { createLoadClock } from './load-clock.js'
import { createReconcilerMetrics } from './metrics.js'
import { createOperatorMetrics } from './operator-metrics.js'
import { createReconcilerWorker } from './reconciler-worker.js'
import { createRetentionWorker } from './retention.js'
import { createDeadLetterWatcher } from './watch-dead-letters.js'

/**
 * Runs the reconciler until SIGTERM / SIGINT. Settings are checked first (a bad one exits 2
 * before anything is reached); then its port (`SISPORTA_HTTP_PORT`, default 9102) is bound —
 * taken, it exits 1 at once — and `/healthz` answers while it connects to NATS (provisioning the
 * bus, which is idempotent) and MySQL, with `/readyz` saying what it waits for; then it watches
 * the load registry and the dead letters.
 *
 * @example
 * await runReconciler(readSettings(), loadConfig('sisporta.yaml'), createLogger({ service: 'reconciler' }))
 */
export async function runReconciler (settings: Settings, config: SisportaConfig, log: Logger): Promise<void> {
  const names = busNames(settings.namespace)
  const mysqlUrl = requireSetting(settings.mysqlUrl, 'SISPORTA_MYSQL_URL')
  const target = exactPoolOptions(mysqlUrl)
  const bus = busConnectOptions(settings.natsUrl, settings.nats).description
  const metricsRegistry = createMetricsRegistry('reconciler')
  const metrics = createReconcilerMetrics(metricsRegistry)
  await runService({
    log,
    registry: metricsRegistry,
    host: settings.httpHost,
    port: settings.httpPort ?? DEFAULT_PORTS.reconciler,
    metricsListen: metricsListen(settings),
    start: async (startup) => {
      startup.waitFor(`NATS at ${bus.servers} (SISPORTA_NATS_URL)`)
      const nc = await connectBus({ url: settings.natsUrl, security: settings.nats, name: `sisporta-reconciler@${hostname()}`, log, onRetry: (err) => { startup.failedAttempt(err) } })
      startup.onClose(async () => { if (!nc.isClosed()) await nc.drain() })
      startup.waitFor('the bus to be provisioned (JetStream streams, consumer, load registry)')
      await provisionBus(nc, names, { ...busProvisioning(settings), log })
      // A record that fails the registry's checks is never acted on: a forged `approved` load
      // deletes nothing, a forged huge load id supersedes nothing.
      const registry = await LoadRegistry.bind(nc, names, {
        onUntrusted: (key, reason) => {
          metrics.untrusted.inc()
          log.warn({ key, reason, code: 'SIS_BUS_LOAD_UNTRUSTED' }, 'ignoring an untrusted load record')
        }
      })
      const db = createDb(mysqlUrl, { poolSize: 4 })
      startup.onClose(async () => { await db.destroy() })
      await startup.retry(`MySQL at ${target.host ?? ''}:${target.port ?? 3306} (SISPORTA_MYSQL_URL)`, async () => await sql`SELECT 1`.execute(db), { isTransient: isUnreachableDatabase })
      // a dead-lettered batch fails its load at once (the extractor learns it from the load record)
      const deadLetters = createDeadLetterWatcher({ nc, names, registry, db, log, metrics })
      const worker = createReconcilerWorker({ registry, db, config, settings, log, metrics, clock: createLoadClock(), deadLetters })
      // lag, dead letters, loads by state, freshness: exported once, here (docs/monitoring.md)
      const operatorMetrics = createOperatorMetrics({ nc, names, registry, config, metricsRegistry, log, intervalMs: settings.operatorMetricsIntervalSec * 1000 })
      operatorMetrics.start()
      startup.onClose(async () => { await operatorMetrics.stop() })
      // old final loads leave the registry and the batch ledger (docs/history-and-retention.md)
      const retention = createRetentionWorker({ nc, names, registry, db, policy: { maxAgeSec: settings.loadRetentionSec, keep: settings.loadRetentionKeep }, log, intervalMs: settings.retentionIntervalSec * 1000 })
      await retention.start()
      startup.onClose(async () => { await retention.stop() })
      return await buildReconcilerApp({ log, registry: metricsRegistry, worker, nc, db, metricsListen: metricsListen(settings) })
    }
  })
}
