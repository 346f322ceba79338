import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { createSigner } from 'fast-jwt'
import type { BusNames } from '@sisporta/contracts'
import { resolveAuth } from '@sisporta/gateway'
import { LoadRegistry, StreamControls } from '@sisporta/nats'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { logSink, testBus } from '@sisporta/testkit'
import type { NatsConnection } from 'nats'
import { buildConsoleApp, createAdminVerifier, createBusOperations, createSampler } from '@sisporta/console'

interface Teardown { teardown(fn: () => unknown): void }

export const STREAMS = [
  { name: 'products', target: { table: 'products' }, deletes: 'hard' },
  { name: 'customers', target: { table: 'customers' }, deletes: 'soft' }
]

export interface ConsoleEnv {
  app: FastifyInstance
  nc: NatsConnection
  names: BusNames
  registry: LoadRegistry
  controls: StreamControls
  secret: string
  lines: Record<string, unknown>[]
  /** A token signed with the console's key: `claims` over `{ sub: 'alice', scope: 'sisporta:admin' }`. */
  sign(claims?: Record<string, unknown>, options?: { ttlMs?: number, issuedMsAgo?: number }): string
}

/** The console app on a fresh namespace of the real NATS server, verifying with a random secret. */
export async function consoleEnv (t: Teardown): Promise<ConsoleEnv> {
  const { nc, names } = await testBus(t)
  const secret = randomBytes(32).toString('hex')
  const { stream, lines } = logSink()
  const log = createLogger({ service: 'console', level: 'info', destination: stream })
  const registry = await LoadRegistry.bind(nc, names)
  const controls = await StreamControls.bind(nc, names)
  const { reads, actions } = createBusOperations({ nc, names, registry, controls })
  const app = await buildConsoleApp({
    log,
    registry: createMetricsRegistry('console'),
    verify: createAdminVerifier(resolveAuth({ secret }), log),
    reads,
    actions,
    sampler: createSampler({ reads, log, intervalMs: 60_000 }),
    namespace: names.namespace,
    streams: STREAMS,
    nc
  })
  await app.ready()
  t.teardown(async () => { await app.close() })
  const sign = (claims: Record<string, unknown> = { sub: 'alice', scope: 'sisporta:admin' }, options: { ttlMs?: number, issuedMsAgo?: number } = {}): string =>
    createSigner({ key: secret, algorithm: 'HS256', expiresIn: options.ttlMs ?? 3_600_000, clockTimestamp: Date.now() - (options.issuedMsAgo ?? 0) })(claims)
  return { app, nc, names, registry, controls, secret, lines, sign }
}

