import { hostname } from 'node:os'
import { busNames, type SisportaConfig } from '@sisporta/contracts'
import { DEFAULT_PORTS, metricsListen, requireSetting, type Settings } from '@sisporta/config'
import { LoadRegistry, connectBus, provisionBus } from '@sisporta/nats'
import { createMetricsRegistry, runService, type Logger } from '@sisporta/observability'
import { createPersisterMetrics } from './metrics.js'
import { buildPersisterApp, type PersisterApp } from './persister-app.js'
import { createPersisterWorker } from './persister-worker.js'

/**
 * Runs the persister until SIGTERM / SIGINT: connects to NATS, provisions the bus (idempotent),
 * starts the consumer loop and serves health and metrics on `SISPORTA_HTTP_PORT` (9101). On a
 * signal it stops pulling, lets in-flight batches commit and be acked, then closes the pool and
 * the NATS connection.
 *
 * @example
 * await runPersister(readSettings(), loadConfig('sisporta.yaml'), createLogger({ service: 'persister' }))
 */
export async function runPersister (settings: Settings, config: SisportaConfig, log: Logger): Promise<void> {
  const names = busNames(settings.namespace)
  const nc = await connectBus({ url: settings.natsUrl, security: settings.nats, name: `sisporta-persister-${hostname()}`, log })
  let app: PersisterApp | undefined
  try {
    await provisionBus(nc, names, { maxDeliver: settings.maxDeliver, log })
    const registry = createMetricsRegistry('persister')
    const loads = await LoadRegistry.bind(nc, names, {
      onUntrusted: (key, reason) => { log.warn({ key, reason, code: 'SIS_BUS_LOAD_UNTRUSTED' }, 'refusing an untrusted load record') }
    })
    const worker = createPersisterWorker({
      nc,
      names,
      config,
      registry: loads,
      mysqlUrl: requireSetting(settings.mysqlUrl, 'SISPORTA_MYSQL_URL'),
      concurrency: settings.persisterConcurrency,
      maxDeliver: settings.maxDeliver,
      log,
      metrics: createPersisterMetrics(registry)
    })
    app = await buildPersisterApp({ log, registry, nc, worker, metricsListen: metricsListen(settings) })
    await runService({
      app,
      log,
      host: settings.httpHost,
      port: settings.httpPort ?? DEFAULT_PORTS.persister,
      onClosed: async () => { if (!nc.isClosed()) await nc.drain() }
    })
  } catch (err) {
    // Failed to start (provisioning, port in use…): release what is open so the process can exit.
    await app?.close().catch(() => {})
    await nc.close().catch(() => {})
    throw err
  }
}
