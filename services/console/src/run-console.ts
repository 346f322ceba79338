import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { sql } from 'kysely'
import { DEFAULT_PORTS, busProvisioning, metricsListen, type Settings } from '@sisporta/config'
import { busNames, type SisportaConfig } from '@sisporta/contracts'
import { createDb, isUnreachableDatabase } from '@sisporta/db'
import { authFromSettings, resolveAuth } from '@sisporta/gateway'
import { busConnectOptions, connectBus, LoadRegistry, provisionBus, StreamControls } from '@sisporta/nats'
import { createMetricsRegistry, runService, type Logger } from '@sisporta/observability'
import { createAdminVerifier } from './admin-auth.js'
import { buildConsoleApp } from './app.js'
import { createBusOperations } from './bus-operations.js'
import { createSampler } from './samples.js'

/**
 * Runs the operator console until SIGTERM / SIGINT. Its keys are the gateway's settings
 * (`SISPORTA_JWT_SECRET`, `_PUBLIC_KEY`, `_JWKS`, `_ISSUER`, `_AUDIENCE`): it refuses to start
 * without one. It binds `SISPORTA_HTTP_PORT` (default 9104; HTTPS with `SISPORTA_TLS_CERT` /
 * `_KEY`), connects to NATS (provisioning is idempotent) and, when `SISPORTA_MYSQL_URL` is set,
 * to MySQL for the throughput chart; then serves the console to admin tokens only.
 *
 * @example
 * await runConsole(readSettings(), loadConfig('sisporta.yaml'), createLogger({ service: 'console' }))
 */
export async function runConsole (settings: Settings, config: SisportaConfig, log: Logger): Promise<void> {
  const auth = resolveAuth(authFromSettings(settings))
  const names = busNames(settings.namespace)
  const bus = busConnectOptions(settings.natsUrl, settings.nats).description
  const https = settings.tlsCert !== undefined && settings.tlsKey !== undefined ? { cert: pem(settings.tlsCert), key: pem(settings.tlsKey) } : null
  const metricsRegistry = createMetricsRegistry('console')
  await runService({
    log,
    registry: metricsRegistry,
    host: settings.httpHost,
    port: settings.httpPort ?? DEFAULT_PORTS.console,
    metricsListen: metricsListen(settings),
    https,
    start: async (startup) => {
      startup.waitFor(`NATS at ${bus.servers} (SISPORTA_NATS_URL)`)
      const nc = await connectBus({ url: settings.natsUrl, security: settings.nats, name: `sisporta-console@${hostname()}`, log, onRetry: (err) => { startup.failedAttempt(err) } })
      startup.onClose(async () => { if (!nc.isClosed()) await nc.drain() })
      startup.waitFor('the bus to be provisioned (JetStream streams, consumer, load registry)')
      await provisionBus(nc, names, { ...busProvisioning(settings), log })
      const registry = await LoadRegistry.bind(nc, names, {
        onUntrusted: (key, reason) => { log.warn({ key, reason, code: 'SIS_BUS_LOAD_UNTRUSTED' }, 'ignoring an untrusted load record') }
      })
      const controls = await StreamControls.bind(nc, names, {
        onMalformed: (key, problem) => { log.warn({ key, problem }, 'malformed stream control record: the stream counts as paused') }
      })
      let db: ReturnType<typeof createDb> | undefined
      if (settings.mysqlUrl !== undefined && settings.mysqlUrl !== '') {
        const target = createDb(settings.mysqlUrl, { poolSize: 2 })
        startup.onClose(async () => { await target.destroy() })
        await startup.retry('MySQL (SISPORTA_MYSQL_URL, for the throughput chart)', async () => await sql`SELECT 1`.execute(target), { isTransient: isUnreachableDatabase })
        db = target
      }
      const { reads, actions } = createBusOperations({ nc, names, registry, controls, db })
      const sampler = createSampler({ reads, log })
      return await buildConsoleApp({
        log,
        registry: metricsRegistry,
        verify: createAdminVerifier(auth, log),
        reads,
        actions,
        sampler,
        namespace: settings.namespace,
        streams: config.streams,
        nc,
        metricsListen: metricsListen(settings),
        https
      })
    }
  })
}

/** PEM content as given, or read from the file it names. */
function pem (value: string): string {
  return value.trimStart().startsWith('-----BEGIN') ? value.replaceAll('\\n', '\n') : readFileSync(value, 'utf8')
}
