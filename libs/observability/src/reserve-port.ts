import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { ServiceError } from './service-error.js'

/** What answers a request on a reserved port (a Fastify app's `routing`, for one). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void

export interface PortReservationOptions {
  readonly host: string
  readonly port: number
  /** The setting the port comes from (`SISPORTA_HTTP_PORT`): named when it cannot be bound. */
  readonly setting: string
  /** Serve HTTPS with this PEM certificate and key. */
  readonly https?: { key: string | Buffer, cert: string | Buffer } | null | undefined
  /** Longest time to receive a whole request (ms; 0: none), against slow clients. */
  readonly requestTimeoutMs?: number | undefined
}

/** A port this process has bound, whose requests go to whichever handler serves it now. */
export interface PortReservation {
  readonly host: string
  /** The port bound (the one asked for, or the one the system chose for 0). */
  readonly port: number
  /** `http://127.0.0.1:9101`: for logs. */
  readonly address: string
  /** From now on, requests go to `handler` (requests already running finish where they are). */
  serve (handler: RequestHandler): void
  /** Stops accepting connections, closes idle ones and waits for running requests. */
  close (): Promise<void>
}

/** Fastify's default: longer than the idle timeout of the load balancers in front of it. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000

/** Ports bound ahead of their app, by `host:port` as asked for (a port is the process's, not a module's). */
const reserved = new Map<string, PortReservation>()

/**
 * The reservation this process holds for `host:port`, if any: an app asked to listen there
 * serves through it instead of binding the port a second time (see `createServiceApp`'s
 * `metricsListen`).
 */
export function reservedPort (host: string, port: number): PortReservation | undefined {
  return reserved.get(`${host}:${port}`)
}

/**
 * Binds a service's port before anything else happens — before NATS, MySQL or the source are
 * reached — so that a port someone else holds stops the process at once, with a message naming
 * the port and its setting, and so that `/healthz` answers while the service is still
 * connecting. Until {@link PortReservation.serve} is called every request gets 503.
 *
 * @example
 * const port = await reservePort({ host: '0.0.0.0', port: 9102, setting: 'SISPORTA_HTTP_PORT' })
 * port.serve(startingApp.routing) // later: port.serve(app.routing)
 */
export async function reservePort (options: PortReservationOptions): Promise<PortReservation> {
  let handler: RequestHandler = notYet
  const dispatch: RequestHandler = (req, res) => { handler(req, res) }
  const server: Server = options.https != null
    ? createHttpsServer({ key: options.https.key, cert: options.https.cert }, dispatch)
    : createHttpServer(dispatch)
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
  server.requestTimeout = options.requestTimeoutMs ?? 0
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => { reject(listenError(err, options)) }
    server.once('error', onError)
    server.listen({ host: options.host, port: options.port, exclusive: true }, () => {
      server.removeListener('error', onError)
      resolve()
    })
  })
  const port = (server.address() as { port: number }).port
  const key = `${options.host}:${options.port}`
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host
  let closing: Promise<void> | undefined
  const reservation: PortReservation = {
    host: options.host,
    port,
    address: `${options.https != null ? 'https' : 'http'}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`,
    serve (next) { handler = next },
    async close () {
      closing ??= new Promise<void>((resolve) => {
        if (reserved.get(key) === reservation) reserved.delete(key)
        server.close(() => { resolve() })
        server.closeIdleConnections()
      })
      await closing
    }
  }
  if (options.port !== 0) reserved.set(key, reservation)
  return reservation
}

function notYet (_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' })
  res.end(JSON.stringify({ status: 'starting' }))
}

function listenError (err: Error, options: PortReservationOptions): ServiceError {
  const code = (err as { code?: unknown }).code
  const where = `port ${options.port} on ${options.host}`
  if (code === 'EADDRINUSE') {
    return new ServiceError('SIS_SVC_PORT_IN_USE', `${where} is already in use (${options.setting}): another process listens there; stop it, or give this service another port with ${options.setting}`, { cause: err, exitCode: 1 })
  }
  const reason = code === 'EACCES'
    ? 'permission denied (ports below 1024 need privileges)'
    : code === 'EADDRNOTAVAIL'
      ? 'the address is not one of this machine\'s (SISPORTA_HTTP_HOST)'
      : `${typeof code === 'string' ? `${code}: ` : ''}${err.message}`
  return new ServiceError('SIS_SVC_LISTEN', `cannot listen on ${where} (${options.setting}): ${reason}`, { cause: err, exitCode: 2 })
}
