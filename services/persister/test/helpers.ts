import { headers as natsHeaders, type NatsConnection, type PubAck } from 'nats'
import { LoadRegistry } from '@sisporta/nats'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { logSink } from '@sisporta/testkit'
import { createPersisterMetrics, createPersisterWorker, type PersisterWorkerOptions } from '../src/index.js'
import { parseConfig } from '@sisporta/config'
import { BatchHeaders, batchMsgId, type BusNames, type LoadMode, type SisportaConfig } from '@sisporta/contracts'

/** Streams of every test: one column of each wire type, a soft-delete stream, a hard-delete one. */
export const CONFIG_YAML = `
streams:
  - name: items
    source: { table: erp.items }
    target: { table: items, key: [id] }
    deletes: soft
    columns:
      - { name: id, from: id, type: int }
      - { name: code, from: code, type: string, length: 40 }
      - { name: name, from: name, type: string }
      - { name: big, from: big, type: bigint }
      - { name: amount, from: amount, type: decimal }
      - { name: price, from: price, type: decimal, precision: 19, scale: 4 }
      - { name: ratio, from: ratio, type: float }
      - { name: active, from: active, type: bool }
      - { name: born, from: born, type: date }
      - { name: changed, from: changed, type: datetime }
      - { name: guid, from: guid, type: uuid }
      - { name: blob, from: blob, type: binary }
      - { name: doc, from: doc, type: json }
  - name: shorts
    source: { table: erp.shorts }
    target: { table: shorts, key: [id] }
    deletes: hard
    columns:
      - { name: id, from: id, type: int }
      - { name: label, from: label, type: string }
`

export const config = parseConfig(CONFIG_YAML, 'persister-test.yaml', {})
export const items = config.stream('items')!
export const shorts = config.stream('shorts')!

export const ITEM_COLUMNS = ['id', 'code', 'name', 'big', 'amount', 'price', 'ratio', 'active', 'born', 'changed', 'guid', 'blob', 'doc']

/** One `items` row in wire format, distinct per id. */
export function itemRow (id: number, name = `item ${id}`): unknown[] {
  return [id, `C${id}`, name, String(1000 + id), `${id}.5`, `${id}.25`, id / 4, id % 2 === 0, '2024-01-01', '2024-01-01T08:00:00.000001', null, null, { id }]
}

export interface PublishBatch {
  stream: string
  loadId: number
  batch: number
  mode?: LoadMode
  body: { columns: string[], rows: unknown[][] }
  /** Overrides the de-duplication id (default: the gateway's `<stream>.<loadId>.<batch>`). */
  msgId?: string
}

/** Publishes a batch message exactly as the gateway does: payload = body JSON, batch headers, msgID. */
export async function publishBatch (nc: NatsConnection, names: BusNames, b: PublishBatch): Promise<PubAck> {
  const h = natsHeaders()
  h.set(BatchHeaders.Stream, b.stream)
  h.set(BatchHeaders.Load, String(b.loadId))
  h.set(BatchHeaders.Batch, String(b.batch))
  h.set(BatchHeaders.Mode, b.mode ?? 'full')
  h.set(BatchHeaders.Rows, String(b.body.rows.length))
  return await nc.jetstream().publish(names.batchSubject(b.stream), new TextEncoder().encode(JSON.stringify(b.body)), {
    headers: h,
    msgID: b.msgId ?? batchMsgId(b.stream, b.loadId, b.batch),
    // as the gateway: only the batch stream may acknowledge (a Nats-Expected-Stream header)
    expect: { streamName: names.batchStream }
  })
}

/**
 * A persister worker on a test's bus and database, as the value tests run it: one batch at a
 * time, short pulls and naks, debug logs into a sink; stopped at teardown. `options` override
 * the defaults (`applyLimits`, `concurrency`…). Not started: call `worker.start()`.
 */
export async function testPersister (
  t: { teardown (fn: () => unknown): void },
  bus: { nc: NatsConnection, names: BusNames },
  mysqlUrl: string,
  config: SisportaConfig,
  options: Partial<PersisterWorkerOptions> = {}
): Promise<{ worker: ReturnType<typeof createPersisterWorker>, loads: LoadRegistry, sink: ReturnType<typeof logSink> }> {
  const sink = logSink()
  const loads = await LoadRegistry.bind(bus.nc, bus.names)
  const worker = createPersisterWorker({
    nc: bus.nc,
    names: bus.names,
    config,
    registry: loads,
    mysqlUrl,
    concurrency: 1,
    maxDeliver: 5,
    log: createLogger({ service: 'persister', level: 'debug', destination: sink.stream }),
    metrics: createPersisterMetrics(createMetricsRegistry('persister')),
    fetchExpiresMs: 1000,
    nakDelaysMs: [200],
    ...options
  })
  t.teardown(() => worker.stop())
  return { worker, loads, sink }
}
