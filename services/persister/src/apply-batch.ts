import type { Kysely } from 'kysely'
import type { LoadMode, StreamConfig } from '@sisporta/contracts'
import { BOOKKEEPING, isTransientMysqlError, type SisportaDatabase } from '@sisporta/db'
import { PersistError } from './errors.js'
import { renderRows, type RenderedRows } from './render-rows.js'
import { prepareUpsert, type UpsertStatement } from './upsert-statement.js'

/** A batch body: its values must have passed the stream's `createBatchChecker`. */
export interface BatchBody {
  readonly columns: readonly string[]
  readonly rows: readonly (readonly unknown[])[]
}

/**
 * One batch of one load, as carried by a batch message (headers + body): its rows either
 * parsed (`body`) or already rendered as SQL for this load (`rendered`, by `transcodeRows`).
 */
export type BatchToApply = {
  readonly loadId: number
  /** Batch number within the load (0-based). */
  readonly batch: number
  readonly mode: LoadMode
} & ({ readonly body: BatchBody } | { readonly rendered: RenderedRows })

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
  /** Most bytes of VALUES text in one statement (a single longer row still goes alone), to stay well under `max_allowed_packet`. */
  readonly maxBytes?: number
}

const DEFAULT_LIMITS = Object.freeze({ maxRows: 2000, maxBytes: 4 * 1024 * 1024 })

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
  const rendered = 'rendered' in batch ? batch.rendered : renderRows(stream, batch.body, batch.loadId)
  const { rowCount, rowEnds, bytes } = rendered
  const maxRows = Math.max(1, limits.maxRows ?? DEFAULT_LIMITS.maxRows)
  const maxBytes = limits.maxBytes ?? DEFAULT_LIMITS.maxBytes
  const upsert = upsertFor(db, stream, rendered.columns)
  const trx = await db.startTransaction().execute().catch((err: unknown) => { throw classify(err, stream, batch) })
  try {
    // The batch's bookkeeping row first: it takes the row lock a concurrent replica applying
    // the same batch waits on, and tells a redelivery apart from a first delivery.
    const booked = await trx.insertInto(BOOKKEEPING.batches)
      .ignore()
      .values({ stream: stream.name, load_id: batch.loadId, batch_no: batch.batch, row_count: rowCount })
      .executeTakeFirst()
    if (booked.numInsertedOrUpdatedRows === 0n) {
      await trx.commit().execute()
      return { status: 'duplicate', rows: rowCount, statements: 0 }
    }
    // Statements cut at row boundaries: at most maxRows rows and maxBytes of VALUES text each.
    let statements = 0
    let first = 0
    while (first < rowCount) {
      const start = first === 0 ? 0 : rowEnds[first - 1]! + 1
      let last = first + 1
      while (last < rowCount && last - first < maxRows && rowEnds[last]! - start <= maxBytes) last++
      try {
        await trx.executeQuery(upsert(bytes.toString('utf8', start, rowEnds[last - 1]!)))
      } catch (err) {
        throw atBatchRow(err, first, stream, batch)
      }
      statements++
      first = last
    }
    await trx.commit().execute()
    return { status: 'applied', rows: rowCount, statements }
  } catch (err) {
    // Not `db.transaction()`: its rollback error (on a connection MySQL already dropped) would
    // replace the error that says why, and that error decides retry or dead letter. A failed
    // rollback changes nothing: the server rolls back a transaction whose connection is gone.
    await trx.rollback().execute().catch(() => {})
    throw classify(err, stream, batch)
  }
}

/**
 * A value MySQL refused, with the row named as the batch numbers it. The server counts rows
 * within one statement ("Incorrect string value: '\xF0\x9F\x98\x80' for column `db`.`t`.`name`
 * at row 3": an emoji into a latin1 column, strict mode), and a batch is cut into several
 * statements: row 3 of the statement that starts at batch row `first` is batch row first + 2.
 */
function atBatchRow (err: unknown, first: number, stream: StreamConfig, batch: BatchToApply): unknown {
  const e = err as { errno?: unknown, message?: unknown }
  if (typeof e?.message !== 'string' || isTransientMysqlError(err)) return err
  const match = ROW_OF_VALUE.exec(e.message)
  if (match === null) return err
  const row = first + Number(match[2]) - 1
  const errno = typeof e.errno === 'number' ? ` (MySQL error ${e.errno})` : ''
  return new PersistError('SIS_PERSIST_REJECTED', `batch ${batch.batch} of load ${batch.loadId} (stream '${stream.name}'): row ${row}, column '${match[1]}': ` +
    `${e.message.replace(/ at row \d+$/, '')}${errno}`, { cause: err })
}

/** `… for column `db`.`table`.`name` at row N` (MariaDB) or `… for column 'name' at row N` (MySQL). */
const ROW_OF_VALUE = /column (?:`[^`]*`\.`[^`]*`\.)?[`']([^`']+)[`'] at row (\d+)$/

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
