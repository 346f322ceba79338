import type { Kysely } from 'kysely'
import type { NatsConnection } from 'nats'
import { parseConfig } from '@sisporta/config'
import type { BusNames, LoadMode, LoadRecord, SisportaConfig } from '@sisporta/contracts'
import { createDb, migrate, type SisportaDatabase } from '@sisporta/db'
import { LoadRegistry } from '@sisporta/nats'
import { createLogger, createMetricsRegistry, type Logger } from '@sisporta/observability'
import { logSink, testBus, testDatabase } from '@sisporta/testkit'
import { createReconcilerMetrics, type ReconcileDeps, type ReconcileSettings, type ReconcilerMetrics } from '@sisporta/reconciler'

interface Teardown { teardown(fn: () => unknown): void }

type Connection = Awaited<ReturnType<typeof testDatabase>>['sql']

/** Streams the tests use: one per delete mode, all with the same two columns. */
export function streamsYaml (overrides: { hardRatio?: number } = {}): string {
  const columns = `
    columns:
      - { name: sku, from: code, type: string, length: 40 }
      - { name: name, from: name, type: string, length: 100 }`
  return `
streams:
  - name: products
    source: { table: erp.products }
    target: { table: products, key: [sku] }
    deletes: hard
    maxDeleteRatio: ${overrides.hardRatio ?? 0.2}${columns}
  - name: customers
    source: { table: erp.customers }
    target: { table: customers, key: [sku] }
    deletes: soft
    maxDeleteRatio: 0.5${columns}
  - name: notes
    source: { table: erp.notes }
    target: { table: notes, key: [sku] }
    deletes: none${columns}
`
}

export interface TestEnv {
  nc: NatsConnection
  names: BusNames
  registry: LoadRegistry
  db: Kysely<SisportaDatabase>
  sql: Connection
  config: SisportaConfig
  deps: ReconcileDeps
  sink: ReturnType<typeof logSink>
  log: Logger
  metricsRegistry: ReturnType<typeof createMetricsRegistry>
  metrics: ReconcilerMetrics
}

/** A real NATS namespace and MariaDB database, migrated for {@link streamsYaml}, and the deps the reconciler needs. */
export async function setup (t: Teardown, options: { hardRatio?: number, settings?: Partial<ReconcileSettings> } = {}): Promise<TestEnv> {
  const { nc, names } = await testBus(t)
  const registry = await LoadRegistry.bind(nc, names)
  const { url, sql } = await testDatabase(t)
  const db = createDb(url)
  t.teardown(async () => { await db.destroy() })
  const config = parseConfig(streamsYaml(options), 'test.yaml', {})
  await migrate(db, config)
  const sink = logSink()
  const log = createLogger({ service: 'reconciler', level: 'debug', destination: sink.stream })
  const metricsRegistry = createMetricsRegistry('reconciler')
  const metrics = createReconcilerMetrics(metricsRegistry)
  const settings: ReconcileSettings = { openTimeoutSec: 3600, applyTimeoutSec: 3600, deleteChunk: 1000, ...options.settings }
  const deps: ReconcileDeps = { registry, db, config, settings, log, metrics }
  return { nc, names, registry, db, sql, config, deps, sink, log, metricsRegistry, metrics }
}

/** Target rows as a persister would leave them: `[sku, stamp]`, stamp null for rows sisporta never wrote. */
export async function insertRows (sql: Connection, table: string, rows: ReadonlyArray<readonly [string, number | null]>): Promise<void> {
  for (let i = 0; i < rows.length; i += 5000) {
    const chunk = rows.slice(i, i + 5000).map(([sku, stamp]) => [sku, `name ${sku}`, stamp])
    await sql.query(`INSERT INTO \`${table}\` (sku, name, _sisporta_load) VALUES ?`, [chunk])
  }
}

/** `count` rows `<prefix>-<n>` stamped `stamp`. */
export function rowsOf (prefix: string, count: number, stamp: number | null): Array<[string, number | null]> {
  return Array.from({ length: count }, (_, i) => [`${prefix}-${i}`, stamp])
}

/** Records applied batches in sisporta_batches, as persisters do: `rowCounts[batchNo] = rows`. */
export async function recordBatches (sql: Connection, stream: string, loadId: number, rowCounts: Record<number, number>): Promise<void> {
  for (const [batchNo, rows] of Object.entries(rowCounts)) {
    await sql.query('INSERT INTO sisporta_batches (stream, load_id, batch_no, row_count) VALUES (?, ?, ?, ?)', [stream, loadId, Number(batchNo), rows])
  }
}

/** Opens a load and seals it the way the gateway does. */
export async function sealedLoad (registry: LoadRegistry, stream: string, mode: LoadMode, counts: { batches: number, rows: number }): Promise<LoadRecord> {
  const opened = await registry.openLoad({ stream, mode, openedBy: 'test' })
  const { load } = await registry.transition(stream, opened.id, (l) => ({ ...l, state: 'sealed', sealedAt: new Date().toISOString(), ...counts }))
  return load
}

/** SKUs left in a table, sorted. */
export async function skus (sql: Connection, table: string, where = '1 = 1'): Promise<string[]> {
  const [rows] = await sql.query(`SELECT sku FROM \`${table}\` WHERE ${where} ORDER BY sku`)
  return (rows as Array<{ sku: string }>).map((r) => r.sku)
}

export async function countRows (sql: Connection, table: string, where = '1 = 1'): Promise<number> {
  const [rows] = await sql.query(`SELECT COUNT(*) AS n FROM \`${table}\` WHERE ${where}`)
  return Number((rows as Array<{ n: number | string }>)[0]?.n)
}

/**
 * The registry, counting the reads of each load's record (`reconcileLoad` starts every
 * examination with one): tests wait for the worker to have examined a load N times instead of
 * sleeping for "several sweeps".
 */
export function countingRegistry (registry: LoadRegistry): { registry: LoadRegistry, reads(stream: string, id: number): number } {
  const reads = new Map<string, number>()
  const counted = new Proxy(registry, {
    get (target, property) {
      const value = Reflect.get(target, property, target) as unknown
      if (typeof value !== 'function') return value
      if (property !== 'get') return value.bind(target)
      return async (stream: string, id: number) => {
        const entry = await registry.get(stream, id)
        reads.set(`${stream}.${id}`, (reads.get(`${stream}.${id}`) ?? 0) + 1)
        return entry
      }
    }
  })
  return { registry: counted, reads: (stream, id) => reads.get(`${stream}.${id}`) ?? 0 }
}
