import type { Kysely } from 'kysely'
import type { LoadMode, StreamConfig, WireType } from '@sisporta/contracts'
import { BOOKKEEPING, isTransientMysqlError, type SisportaDatabase } from '@sisporta/db'
import { PersistError } from './errors.js'
import { prepareUpsert, type UpsertStatement } from './upsert-statement.js'
import { wireToSql, type SqlValue } from './wire-to-sql.js'

/** One batch of one load, as carried by a batch message (headers + body). */
export interface BatchToApply {
  readonly loadId: number
  /** Batch number within the load (0-based). */
  readonly batch: number
  readonly mode: LoadMode
  /** The batch body; its values must have passed the stream's `createBatchChecker`. */
  readonly body: { readonly columns: readonly string[], readonly rows: readonly (readonly unknown[])[] }
}

export interface ApplyResult {
  /** `duplicate`: the bookkeeping already had this batch (a redelivery); nothing was written. */
  readonly status: 'applied' | 'duplicate'
  /** Rows in the batch (upserted, when applied). */
  readonly rows: number
  /** Upsert statements the batch was split into (0 for a duplicate). */
  readonly statements: number
}

export interface ApplyLimits {
  /** Most rows in one statement. */
  readonly maxRows?: number
  /** Most parameters in one statement (values plus one load id per row). */
  readonly maxParams?: number
  /** Rough most bytes of values in one statement, to stay well under `max_allowed_packet`. */
  readonly maxBytes?: number
}

const DEFAULT_LIMITS = Object.freeze({ maxRows: 2000, maxParams: 60_000, maxBytes: 4 * 1024 * 1024 })

/**
 * Applies one batch in ONE transaction: books it in `sisporta_batches`, then upserts its rows,
 * then commits. A batch already booked (a redelivery, or another replica got there first — the
 * bookkeeping primary key serialises them) writes nothing and reports `duplicate`. Rows are
 * written with the load-stamp guard of {@link prepareUpsert}, so an older load never
 * overwrites a row a newer one wrote. Acknowledge the message only after this resolves.
 *
 * MySQL errors that retrying may fix (deadlock, lock wait, lost connection) are rethrown as
 * they are; every other failure is a permanent `PersistError` with the driver error as cause.
 *
 * @example
 * const result = await applyBatch(db, config.stream('products')!, {
 *   loadId: 42, batch: 0, mode: 'full', body: { columns: ['sku', 'price'], rows: [['A1', '12.50']] }
 * })
 * // { status: 'applied', rows: 1, statements: 1 }
 */
export async function applyBatch (db: Kysely<SisportaDatabase>, stream: StreamConfig, batch: BatchToApply, limits: ApplyLimits = {}): Promise<ApplyResult> {
  const { columns, rows } = batch.body
  const types = columnTypes(stream, columns)
  const maxRows = Math.max(1, Math.min(limits.maxRows ?? DEFAULT_LIMITS.maxRows, Math.floor((limits.maxParams ?? DEFAULT_LIMITS.maxParams) / (columns.length + 1))))
  const maxBytes = limits.maxBytes ?? DEFAULT_LIMITS.maxBytes
  const upsert = upsertFor(db, stream, columns)
  const trx = await db.startTransaction().execute().catch((err: unknown) => { throw classify(err, stream, batch) })
  try {
    // The batch's bookkeeping row first: it takes the row lock a concurrent replica applying
    // the same batch waits on, and tells a redelivery apart from a first delivery.
    const booked = await trx.insertInto(BOOKKEEPING.batches)
      .ignore()
      .values({ stream: stream.name, load_id: batch.loadId, batch_no: batch.batch, row_count: rows.length })
      .executeTakeFirst()
    if (booked.numInsertedOrUpdatedRows === 0n) {
      await trx.commit().execute()
      return { status: 'duplicate', rows: rows.length, statements: 0 }
    }
    let statements = 0
    let slice: SqlValue[][] = []
    let bytes = 0
    for (const row of rows) {
      const converted = new Array<SqlValue>(types.length)
      let rowBytes = 0
      for (let c = 0; c < types.length; c++) {
        const value = wireToSql(types[c]!, row[c])
        converted[c] = value
        rowBytes += estimateBytes(value)
      }
      if (slice.length > 0 && (slice.length >= maxRows || bytes + rowBytes > maxBytes)) {
        await trx.executeQuery(upsert(slice, batch.loadId))
        statements++
        slice = []
        bytes = 0
      }
      slice.push(converted)
      bytes += rowBytes
    }
    if (slice.length > 0) {
      await trx.executeQuery(upsert(slice, batch.loadId))
      statements++
    }
    await trx.commit().execute()
    return { status: 'applied', rows: rows.length, statements }
  } catch (err) {
    // Not `db.transaction()`: its rollback error (on a connection MySQL already dropped) would
    // replace the error that says why, and that error decides retry or dead letter. A failed
    // rollback changes nothing: the server rolls back a transaction whose connection is gone.
    await trx.rollback().execute().catch(() => {})
    throw classify(err, stream, batch)
  }
}

/** Transient MySQL errors stay as they are (they are retried); every other failure is permanent. */
function classify (err: unknown, stream: StreamConfig, batch: BatchToApply): unknown {
  if (isTransientMysqlError(err) || err instanceof PersistError) return err
  const reason = err instanceof Error ? err.message : String(err)
  return new PersistError('SIS_PERSIST_REJECTED', `batch ${batch.batch} of load ${batch.loadId} (stream '${stream.name}'): ${reason}`, { cause: err })
}

const prepared = new WeakMap<StreamConfig, Map<string, UpsertStatement>>()

/** The upsert of a stream for one column list, prepared once (batches of a load share their columns). */
function upsertFor (db: Kysely<SisportaDatabase>, stream: StreamConfig, columns: readonly string[]): UpsertStatement {
  let byColumns = prepared.get(stream)
  if (byColumns === undefined) {
    byColumns = new Map()
    prepared.set(stream, byColumns)
  }
  const key = columns.join(',')
  let upsert = byColumns.get(key)
  if (upsert === undefined) {
    upsert = prepareUpsert(db, stream, columns)
    if (byColumns.size < 64) byColumns.set(key, upsert)
  }
  return upsert
}

function columnTypes (stream: StreamConfig, columns: readonly string[]): WireType[] {
  const byName = new Map(stream.columns.map((c) => [c.name, c.type]))
  return columns.map((name) => {
    const type = byName.get(name)
    if (type === undefined) throw new PersistError('SIS_PERSIST_BAD_BODY', `unknown column '${name}' for stream '${stream.name}'`)
    return type
  })
}

/** Roughly what a value adds to the statement text (strings may grow when escaped). */
function estimateBytes (value: SqlValue): number {
  if (value === null) return 5
  if (typeof value === 'string') return value.length + 3
  if (typeof value === 'number') return 24
  return value.length * 2 + 3
}
