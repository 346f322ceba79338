import { connect, type NatsConnection } from 'nats'

export interface BusLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
}

export interface ConnectBusOptions {
  url: string
  /** Connection name shown by `nats-server` monitoring (service and host). */
  name: string
  log?: BusLogger
  /** Give up the first connection after this long (ms). Reconnects after that are endless. */
  connectTimeoutMs?: number
}

/**
 * Connects to NATS, retrying the first connection with backoff until `connectTimeoutMs`
 * (a service started before its NATS server waits for it instead of crash-looping), then
 * reconnecting forever: a NATS restart mid-load pauses the service, it does not stop it.
 *
 * @example
 * const nc = await connectBus({ url: 'nats://127.0.0.1:4222', name: 'persister' })
 */
export async function connectBus (options: ConnectBusOptions): Promise<NatsConnection> {
  const deadline = Date.now() + (options.connectTimeoutMs ?? 60_000)
  let delay = 250
  for (let attempt = 1; ; attempt++) {
    try {
      const nc = await connect({
        servers: options.url.split(',').map((s) => s.trim()),
        name: options.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        pingInterval: 20_000,
        timeout: 5_000
      })
      options.log?.info({ server: nc.getServer(), attempt }, 'connected to NATS')
      void watchStatus(nc, options.log)
      return nc
    } catch (err) {
      if (Date.now() + delay > deadline) throw err
      options.log?.warn({ err, attempt, retryInMs: delay }, 'NATS not reachable, retrying')
      await new Promise((resolve) => setTimeout(resolve, delay))
      delay = Math.min(delay * 2, 5_000)
    }
  }
}

async function watchStatus (nc: NatsConnection, log?: BusLogger): Promise<void> {
  if (log === undefined) return
  for await (const s of nc.status()) {
    if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
      log.warn({ natsStatus: s.type, data: String(s.data) }, `NATS ${s.type}`)
    }
  }
}
