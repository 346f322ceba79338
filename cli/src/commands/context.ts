import { pino } from 'pino'
import { loadConfig, readSettings, type Settings } from '@sisporta/config'
import type { SisportaConfig } from '@sisporta/contracts'
import { busNames, type BusNames } from '@sisporta/contracts'
import { connectBus, LoadRegistry } from '@sisporta/nats'
import { createLogger, type Logger } from '@sisporta/observability'
import type { NatsConnection } from 'nats'

/** Settings and config, read once per command. Config errors surface as exit code 2. */
export function loadContext (service = 'cli'): { settings: Settings, config: SisportaConfig, log: Logger } {
  const settings = readSettings()
  const config = loadConfig(settings.configFile)
  return { settings, config, log: cliLogger(settings, service) }
}

/** CLI commands log JSON to stderr, keeping stdout for what the command prints. */
export function cliLogger (settings: Settings, service = 'cli'): Logger {
  return createLogger({ service, level: settings.logLevel, destination: pino.destination(2) })
}

/** A NATS connection and the load registry, closed by the returned `close`. */
export async function openRegistry (settings: Settings, log: Logger): Promise<{ nc: NatsConnection, names: BusNames, registry: LoadRegistry, close: () => Promise<void> }> {
  const names = busNames(settings.namespace)
  const nc = await connectBus({ url: settings.natsUrl, security: settings.nats, name: 'sisporta-cli', log, connectTimeoutMs: 10_000 })
  const registry = await LoadRegistry.bind(nc, names)
  return { nc, names, registry, close: async () => { await nc.close() } }
}
