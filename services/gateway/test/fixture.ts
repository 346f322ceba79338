import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { createSigner } from 'fast-jwt'
import type { Test } from 'tap'
import type { JetStreamManager, NatsConnection } from 'nats'
import { parseConfig } from '@sisporta/config'
import type { BusNames, ErrorReply, LoadRecord } from '@sisporta/contracts'
import { LoadRegistry } from '@sisporta/nats'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { logSink, testBus } from '@sisporta/testkit'
import { buildGatewayApp, type GatewayAppOptions } from '../src/index.js'

export const SECRET = 'test-secret-that-is-long-enough-for-hs256!'

export const CONFIG = parseConfig(`
streams:
  - name: products
    source: { table: dbo.Produtos }
    target: { table: products, key: [sku] }
    columns:
      - { name: sku, from: ProdCode, type: string }
      - { name: name, from: Descr, type: string }
      - { name: price, from: Preco, type: decimal, precision: 12, scale: 2 }
      - { name: qty, from: Qty, type: int, nullable: false }
      - { name: updated_at, from: DataAlt, type: datetime }
  - name: customers
    source: { table: dbo.Clientes }
    target: { table: customers, key: [id] }
    columns:
      - { name: id, from: Id, type: bigint }
      - { name: name, from: Nome, type: string }
`, 'test.yaml', {})

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface Gateway {
  app: FastifyInstance
  nc: NatsConnection
  names: BusNames
  jsm: JetStreamManager
  loads: LoadRegistry
  /** Parsed log lines of the app. */
  logs: Record<string, unknown>[]
  /** Authorization header with a token for these streams (default: every stream). */
  auth(streams?: string[], claims?: Record<string, unknown>): { authorization: string }
  /** Messages in the batch stream right now. */
  messageCount(): Promise<number>
  openLoad(stream?: string, mode?: 'full' | 'incremental'): Promise<LoadRecord>
  postBatch(load: { id: number, stream: string }, batch: number, body: string | object, headers?: Record<string, string>): Promise<LightMyRequestResponse>
}

const sign = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 })
// fast-jwt's expiresIn overrides an `exp` claim: tokens with their own times are signed without
// it, with an hour's `exp` unless the claims give one (`iat` is always set by the signer).
const signAsIs = createSigner({ key: SECRET, algorithm: 'HS256' })

/** A gateway app on a fresh NATS namespace, closed at teardown. */
export async function startGateway (t: Teardown, options: Partial<GatewayAppOptions> = {}): Promise<Gateway> {
  const { nc, names } = await testBus(t)
  const sink = logSink()
  const app = await buildGatewayApp({
    config: CONFIG,
    nc,
    names,
    log: createLogger({ service: 'gateway', level: 'debug', destination: sink.stream }),
    metrics: createMetricsRegistry('gateway'),
    auth: { secret: SECRET },
    ...options
  })
  t.teardown(async () => { await app.close() })
  await app.ready()
  const jsm = await nc.jetstreamManager()
  const loads = await LoadRegistry.bind(nc, names)
  const gw: Gateway = {
    app,
    nc,
    names,
    jsm,
    loads,
    logs: sink.lines,
    auth: (streams = ['*'], claims = {}) => ({
      authorization: `Bearer ${Object.keys(claims).length > 0
        ? signAsIs({ sub: 'test-extractor', streams, exp: Math.floor(Date.now() / 1000) + 3600, ...claims })
        : sign({ sub: 'test-extractor', streams })}`
    }),
    messageCount: async () => (await jsm.streams.info(names.batchStream)).state.messages,
    openLoad: async (stream = 'products', mode = 'full') => {
      const res = await app.inject({ method: 'POST', url: `/v1/streams/${stream}/loads`, headers: gw.auth(), payload: { mode } })
      if (res.statusCode !== 201) throw new Error(`open load: ${res.statusCode} ${res.body}`)
      return (res.json() as { load: LoadRecord }).load
    },
    postBatch: async (load, batch, body, headers = {}) => await app.inject({
      method: 'POST',
      url: `/v1/streams/${load.stream}/loads/${load.id}/batches/${batch}`,
      headers: { 'content-type': 'application/json', ...gw.auth(), ...headers },
      payload: typeof body === 'string' ? body : JSON.stringify(body)
    })
  }
  return gw
}

/** Asserts the reply is an {@link ErrorReply} of this status and code; returns it. */
export function errorOf (t: Test, res: LightMyRequestResponse, statusCode: number, code: string): ErrorReply {
  const body = res.json() as ErrorReply
  t.equal(res.statusCode, statusCode, `status ${statusCode} (${body.message})`)
  t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], 'the ErrorReply shape, nothing more')
  t.equal(body.code, code)
  t.equal(body.statusCode, statusCode)
  return body
}
