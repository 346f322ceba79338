import { hostname } from 'node:os'
import { DEFAULT_PORTS, metricsListen, requireSetting, type Settings } from '@sisporta/config'
import { busNames, type SisportaConfig } from '@sisporta/contracts'
import { createDb } from '@sisporta/db'
import { connectBus, LoadRegistry, provisionBus } from '@sisporta/nats'
import { createMetricsRegistry, runService, type Logger } from '@sisporta/observability'
import { buildReconcilerApp } from './app.js'
import { createReconcilerMetrics } from './metrics.js'
import { createReconcilerWorker } from './reconciler-worker.js'

/**
 * Runs the reconciler until SIGTERM / SIGINT: connects to NATS (provisioning the bus, which is
 * idempotent) and MySQL, watches the load registry, and serves /healthz, /readyz and /metrics
 * on `SISPORTA_HTTP_PORT` (default 9102).
 *
 * @example
 * await runReconciler(readSettings(), loadConfig('sisporta.yaml'), createLogger({ service: 'reconciler' }))
 */
export async function runReconciler (settings: Settings, config: SisportaConfig, log: Logger): Promise<void> {
  const names = busNames(settings.namespace)
  const nc = await connectBus({ url: settings.natsUrl, security: settings.nats, name: `sisporta-reconciler@${hostname()}`, log })
  await provisionBus(nc, names, { maxDeliver: settings.maxDeliver, log })
  const metricsRegistry = createMetricsRegistry('reconciler')
  const metrics = createReconcilerMetrics(metricsRegistry)
  // A record that fails the registry's checks is never acted on: a forged `approved` load
  // deletes nothing, a forged huge load id supersedes nothing.
  const registry = await LoadRegistry.bind(nc, names, {
    onUntrusted: (key, reason) => {
      metrics.untrusted.inc()
      log.warn({ key, reason, code: 'SIS_BUS_LOAD_UNTRUSTED' }, 'ignoring an untrusted load record')
    }
  })
  const db = createDb(requireSetting(settings.mysqlUrl, 'SISPORTA_MYSQL_URL'), { poolSize: 4 })
  const worker = createReconcilerWorker({ registry, db, config, settings, log, metrics })
  const app = await buildReconcilerApp({ log, registry: metricsRegistry, worker, nc, db, metricsListen: metricsListen(settings) })
  await runService({
    app,
    log,
    host: settings.httpHost,
    port: settings.httpPort ?? DEFAULT_PORTS.reconciler,
    onClosed: async () => {
      await db.destroy()
      await nc.drain()
    }
  })
}
