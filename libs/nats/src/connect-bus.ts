import { connect, type NatsConnection } from 'nats'
import { busConnectOptions, type BusConnectionDescription, type BusSecurity } from './bus-connect-options.js'
import { BusError } from './errors.js'

export interface BusLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
}

export interface ConnectBusOptions {
  /** `SISPORTA_NATS_URL`: one server or a comma-separated list, credentials allowed in it. */
  url: string
  /** `settings.nats`: user + password, token, creds or nkey file, TLS files ({@link NO_BUS_SECURITY} for none). */
  security: BusSecurity
  /** Connection name shown by `nats-server` monitoring (service and host). */
  name: string
  log?: BusLogger
  /** Give up the first connection after this long (ms). Reconnects after that are endless. */
  connectTimeoutMs?: number
  /** Told about each failed first-connection attempt that will be retried (`SIS_BUS_UNREACHABLE`: `/readyz` shows it). */
  onRetry?: (err: BusError, attempt: number) => void
}

/**
 * Connects to NATS with the process's identity and TLS settings (see {@link busConnectOptions}),
 * retrying the first connection with backoff until `connectTimeoutMs` (a service started before
 * its NATS server waits for it instead of crash-looping), then reconnecting forever: a NATS
 * restart mid-load pauses the service, it does not stop it. Settings that cannot work are not
 * retried: bad settings, refused credentials (`SIS_BUS_AUTH`) and a failed TLS handshake
 * (`SIS_BUS_TLS`) throw at once, with exit code 2. A server that stays unreachable (refused,
 * unknown host, timed out) throws `SIS_BUS_UNREACHABLE` (exit code 1) once `connectTimeoutMs`
 * is spent, naming SISPORTA_NATS_URL, the servers and the reason. Logs and messages show the
 * servers without credentials.
 *
 * @example
 * const nc = await connectBus({ url: settings.natsUrl, security: settings.nats, name: 'persister', log })
 */
export async function connectBus (options: ConnectBusOptions): Promise<NatsConnection> {
  const { servers, authenticator, tls, description } = busConnectOptions(options.url, options.security)
  const deadline = Date.now() + (options.connectTimeoutMs ?? 60_000)
  let delay = 250
  for (let attempt = 1; ; attempt++) {
    try {
      const nc = await connect({
        servers,
        ...(authenticator !== undefined ? { authenticator } : {}),
        ...(tls !== undefined ? { tls } : {}),
        name: options.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        pingInterval: 20_000,
        timeout: 5_000
      })
      options.log?.info({ server: nc.getServer(), servers: description.servers, auth: description.auth, ...(description.user !== undefined ? { user: description.user } : {}), tls: description.tls, attempt }, 'connected to NATS')
      void watchStatus(nc, options.log)
      return nc
    } catch (err) {
      const fatal = classifyConnectError(err, description)
      if (fatal !== undefined) throw fatal
      const unreachable = unreachableError(err, description)
      if (Date.now() + delay > deadline) throw unreachable
      options.onRetry?.(unreachable, attempt)
      options.log?.warn({ err: unreachable, servers: description.servers, attempt, retryInMs: delay }, 'NATS not reachable, retrying')
      await new Promise((resolve) => setTimeout(resolve, delay))
      delay = Math.min(delay * 2, 5_000)
    }
  }
}

const AUTH_CODES = new Set(['AUTHORIZATION_VIOLATION', 'AUTHENTICATION_EXPIRED', 'AUTHENTICATION_TIMEOUT', 'ACCOUNT_EXPIRED', 'BAD_CREDS'])
/** nats.js's own code for a TLS failure, and Node's for certificates it could not verify. */
const TLS_ERROR = /^(TLS|ERR_TLS_.*|ERR_SSL_.*|.*CERT.*|UNABLE_TO_.*|SELF_SIGNED.*|DEPTH_ZERO.*|HOSTNAME_MISMATCH)$/

/** A connection error that retrying cannot fix, as a coded error; `undefined` for one worth retrying. */
function classifyConnectError (err: unknown, d: BusConnectionDescription): BusError | undefined {
  const e = err as { code?: unknown, chainedError?: { code?: unknown }, message?: unknown } | undefined
  const code = typeof e?.code === 'string' ? e.code : ''
  const causeCode = typeof e?.chainedError?.code === 'string' ? e.chainedError.code : ''
  const who = { none: 'without credentials', user: `as user '${d.user ?? ''}'`, token: 'with a token', nkey: 'with an nkey', creds: 'with a creds file' }[d.auth]
  if (AUTH_CODES.has(code)) {
    return new BusError('SIS_BUS_AUTH', `NATS (${d.servers}) refused the connection ${who} (${code}): check SISPORTA_NATS_URL's credentials or SISPORTA_NATS_USER/_PASSWORD, _TOKEN, _CREDS, _NKEY against the server's users`, { exitCode: 2 })
  }
  if (code === 'SERVER_OPT_NA' && /tls/i.test(String(e?.message))) {
    return new BusError('SIS_BUS_TLS', `NATS (${d.servers}) does not offer TLS, but ${d.tls ? 'a tls:// URL or SISPORTA_NATS_TLS_* asks for it' : 'the server requires it'}`, { exitCode: 2 })
  }
  if (TLS_ERROR.test(code) || TLS_ERROR.test(causeCode)) {
    return new BusError('SIS_BUS_TLS', `TLS with NATS (${d.servers}) failed (${causeCode !== '' ? causeCode : code}): check SISPORTA_NATS_TLS_CA (the CA of the server's certificate) and, for mutual TLS, SISPORTA_NATS_TLS_CERT / _KEY`, { exitCode: 2, cause: err })
  }
  return undefined
}

/** What a socket-level failure means, in words (the driver's code follows in the message). */
const NETWORK_REASONS: Readonly<Record<string, string>> = Object.freeze({
  CONNECTION_REFUSED: 'connection refused: nothing listens there',
  ECONNREFUSED: 'connection refused: nothing listens there',
  ENOTFOUND: 'host name not found (DNS)',
  EAI_AGAIN: 'host name lookup failed for now (DNS)',
  TIMEOUT: 'timed out',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset by the server'
})

/** `SIS_BUS_UNREACHABLE` for a first connection that failed for a reason retrying may fix. */
function unreachableError (err: unknown, d: BusConnectionDescription): BusError {
  const e = err as { code?: unknown, chainedError?: { code?: unknown }, message?: unknown } | undefined
  const code = typeof e?.code === 'string' ? e.code : ''
  const causeCode = typeof e?.chainedError?.code === 'string' ? e.chainedError.code : ''
  const reason = NETWORK_REASONS[code] ?? NETWORK_REASONS[causeCode] ?? (typeof e?.message === 'string' ? e.message : String(err))
  const codes = [...new Set([code, causeCode].filter((c) => c !== ''))].join(', ')
  return new BusError('SIS_BUS_UNREACHABLE', `cannot connect to NATS at ${d.servers} (SISPORTA_NATS_URL): ${reason}${codes !== '' ? ` (${codes})` : ''}`, { cause: err, exitCode: 1 })
}

async function watchStatus (nc: NatsConnection, log?: BusLogger): Promise<void> {
  if (log === undefined) return
  for await (const s of nc.status()) {
    if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
      log.warn({ natsStatus: s.type, data: String(s.data) }, `NATS ${s.type}`)
    }
  }
}
