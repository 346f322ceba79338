import { pino } from 'pino'
import { loadConfig, readSettings, type Settings } from '@sisporta/config'
import type { SisportaConfig } from '@sisporta/contracts'
import { busNames, type BusNames } from '@sisporta/contracts'
import { connectBus, isPermissionDenied, LoadRegistry, type BusLogger } from '@sisporta/nats'
import { WorkFailed } from '../usage-error.js'
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

/**
 * What the CLI lets through of the bus connection's own log: a command's output is for the
 * operator, so "connected to NATS" and the connection's status changes are debug lines here
 * (SISPORTA_LOG_LEVEL=debug shows them); only "not reachable, retrying" stays a warning, since it
 * explains a command that seems to hang.
 */
export function quietBusLog (log: Logger): BusLogger {
  return {
    info: (obj, msg) => { log.debug(obj, msg) },
    warn: (obj, msg) => { if ('natsStatus' in obj) log.debug(obj, msg); else log.warn(obj, msg) }
  }
}

/** A NATS connection for a command (quiet, see {@link quietBusLog}). */
export async function openBus (settings: Settings, log: Logger): Promise<NatsConnection> {
  return await connectBus({ url: settings.natsUrl, security: settings.nats, name: 'sisporta-cli', log: quietBusLog(log), connectTimeoutMs: 10_000 })
}

/**
 * A NATS connection and the load registry, closed by the returned `close`. A namespace whose
 * registry does not exist (nothing provisioned it, or SISPORTA_NAMESPACE is mistyped) fails with
 * `SIS_CLI_NOT_PROVISIONED`, naming it.
 */
export async function openRegistry (settings: Settings, log: Logger): Promise<{ nc: NatsConnection, names: BusNames, registry: LoadRegistry, close: () => Promise<void> }> {
  const names = busNames(settings.namespace)
  const nc = await openBus(settings, log)
  try {
    const registry = await LoadRegistry.bind(nc, names)
    // binding alone does not look: ask for the bucket's stream (an identity that may not read it finds out later)
    await (await nc.jetstreamManager()).streams.info(`KV_${names.loadsBucket}`).catch((err: unknown) => { if (!isPermissionDenied(err)) throw err })
    return { nc, names, registry, close: async () => { await nc.close() } }
  } catch (err) {
    await nc.close()
    if (/stream not found|bucket not found/i.test((err as Error).message ?? '')) throw notProvisioned(settings.namespace, err)
    throw err
  }
}

/** The error for a namespace nobody provisioned on this NATS. */
export function notProvisioned (namespace: string, cause?: unknown): WorkFailed {
  const err = new WorkFailed('SIS_CLI_NOT_PROVISIONED', `namespace '${namespace}' has no load registry on this NATS: no sisporta service has started with SISPORTA_NAMESPACE=${namespace} (check the namespace, or start the services)`)
  if (cause !== undefined) Object.defineProperty(err, 'cause', { value: cause })
  return err
}
