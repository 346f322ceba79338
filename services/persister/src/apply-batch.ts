import { sql, type Kysely } from 'kysely'
import type { LoadMode, StreamConfig } from '@sisporta/contracts'
import { BOOKKEEPING, MysqlErrno, collectWarnings, isTransientMysqlError, serverFlavour, warningKind, type ServerFlavour, type SisportaDatabase, type StatementWarning } from '@sisporta/db'
import { PersistError } from './errors.js'
import { changedValueError } from './changed-value.js'
import { rowOfStatement } from './statement-row.js'
import { targetCheck } from './target-check.js'
import { foreignKeyViolation } from './foreign-key-violation.js'
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
  /**
   * Set when these rows are only a PART of batch `batch`: a range applied while bisecting it, or
   * a replayed dead letter. The part is booked in `sisporta_batch_parts` under `key` (a part
   * booked already is a duplicate: nothing is written), never in `sisporta_batches` — the batch
   * itself is booked there, with `batchRows` rows, by the transaction whose part completes it
   * (its parts then hold `batchRows` rows). A part of a batch booked whole already is a duplicate.
   */
  readonly part?: BatchPart
} & ({ readonly body: BatchBody } | { readonly rendered: RenderedRows })

/** What a part of a batch is booked as (see {@link BatchToApply.part}). */
export interface BatchPart {
  /** Its identity among the batch's parts: `rows 0-49`, `replay 17`, `replay 17 rows 0-4`. */
  readonly key: string
  /** Rows of the whole batch. */
  readonly batchRows: number
}

export interface ApplyResult {
  /** `duplicate`: the bookkeeping already had this batch (a redelivery); nothing was written. */
  readonly status: 'applied' | 'duplicate'
  /** Rows in the batch (upserted, when applied). */
  readonly rows: number
  /** Upsert statements the batch was split into (0 for a duplicate). */
  readonly statements: number
  /** Warnings MySQL raised that say nothing about the values (a deprecation…), for the log; absent when none. */
  readonly notes?: readonly StatementWarning[]
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
 * The values stored are the values sent, or the batch fails permanently and nothing of it is
 * stored:
 *
 * - the target table must hold every value the stream declares (`TargetCheck`): checked before
 *   the stream's first rows are written, again in every batch's transaction after its upserts
 *   (an `ALTER TABLE` may have narrowed a column since), and again after any failure —
 *   `SIS_PERSIST_TARGET_TYPE` naming stream, table, column and both types;
 * - every upsert statement's warnings and notes are read on its connection (only when its OK
 *   packet reports some: no extra round trip otherwise), and any that is not known to be
 *   harmless — a decimal rounded to the column's scale is only a *note*, even in strict mode —
 *   fails the batch with `SIS_PERSIST_VALUE_CHANGED`, naming the batch's row and column and
 *   quoting MySQL. Harmless ones (deprecation notices) come back in `notes`.
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
  const upsert = upsertFor(db, stream, rendered.columns, await serverFlavour(db).catch((err: unknown) => { throw classify(err, stream, batch) }))
  const what = `batch ${batch.batch} of load ${batch.loadId}`
  const check = targetCheck(db)
  const trx = await db.startTransaction().execute().catch((err: unknown) => { throw classify(err, stream, batch) })
  try {
    // The batch's bookkeeping row first: it takes the row lock a concurrent replica applying
    // the same batch waits on, and tells a redelivery apart from a first delivery.
    const booked = batch.part === undefined
      ? await trx.insertInto(BOOKKEEPING.batches)
        .ignore()
        .values({ stream: stream.name, load_id: batch.loadId, batch_no: batch.batch, row_count: rowCount })
        .executeTakeFirst()
      : await bookPart(trx, stream.name, batch, batch.part, rowCount)
    if (booked.numInsertedOrUpdatedRows === 0n) {
      await trx.commit().execute()
      return { status: 'duplicate', rows: rowCount, statements: 0 }
    }
    await check.ensure(trx, stream, what)
    // Statements cut at row boundaries: at most maxRows rows and maxBytes of VALUES text each.
    let statements = 0
    let first = 0
    const notes: StatementWarning[] = []
    while (first < rowCount) {
      const start = first === 0 ? 0 : rowEnds[first - 1]! + 1
      let last = first + 1
      while (last < rowCount && last - first < maxRows && rowEnds[last]! - start <= maxBytes) last++
      let warnings: StatementWarning[]
      try {
        ({ warnings } = await collectWarnings(async () => await trx.executeQuery(upsert(bytes.toString('utf8', start, rowEnds[last - 1]!)))))
      } catch (err) {
        throw foreignKeyViolation(err, stream, batch, first, last) ?? atBatchRow(err, first, stream, batch)
      }
      const changed = warnings.find((w) => warningKind(w) !== 'harmless')
      if (changed !== undefined) throw await changedValueError(trx, stream, what, changed, first)
      notes.push(...warnings)
      statements++
      first = last
    }
    await check.verify(trx, stream, what)
    if (batch.part !== undefined) await bookBatchOnceWhole(trx, stream.name, batch, batch.part)
    await trx.commit().execute()
    return { status: 'applied', rows: rowCount, statements, ...(notes.length > 0 ? { notes } : {}) }
  } catch (err) {
    // Not `db.transaction()`: its rollback error (on a connection MySQL already dropped) would
    // replace the error that says why, and that error decides retry or dead letter. A failed
    // rollback changes nothing: the server rolls back a transaction whose connection is gone.
    await trx.rollback().execute().catch(() => {})
    if (!isTransientMysqlError(err)) {
      // whatever failed, the next batch checks the table before writing; a schema error is explained by that check
      check.forget(stream)
      if (isSchemaError(err)) await check.ensure(db, stream, what).catch((refusal: unknown) => { if (refusal instanceof PersistError) throw refusal })
    }
    throw classify(err, stream, batch)
  }
}

/**
 * Books one part of a batch, unless the batch is booked whole already (a stale dead letter
 * replayed, a redelivery of a batch that applied whole after all): then nothing is inserted and
 * the part is a duplicate. The batch's own ledger row is read with a shared lock, so a replica
 * booking it whole at the same moment is waited for.
 */
async function bookPart (trx: Kysely<SisportaDatabase>, stream: string, batch: BatchToApply, part: BatchPart, rowCount: number): Promise<{ numInsertedOrUpdatedRows?: bigint }> {
  const whole = await trx.selectFrom(BOOKKEEPING.batches).select('row_count')
    .where('stream', '=', stream).where('load_id', '=', batch.loadId).where('batch_no', '=', batch.batch)
    .modifyEnd(sql`LOCK IN SHARE MODE`).executeTakeFirst() // MariaDB has no FOR SHARE
  if (whole !== undefined) return { numInsertedOrUpdatedRows: 0n }
  return await trx.insertInto(BOOKKEEPING.batchParts).ignore()
    .values({ stream, load_id: batch.loadId, batch_no: batch.batch, part: part.key, row_count: rowCount })
    .executeTakeFirst()
}

/**
 * Books the batch whole, in the transaction of the part that completes it: its parts hold all
 * its rows. A batch is cut into parts exactly once (bisection splits the delivered rows into
 * ranges applied and ONE dead letter of the rest; a replay of that letter is bisected the same
 * way), so the parts' rows add up to the batch's rows only when every row was applied. Then the
 * reconciler counts the batch like any other (a load still sealed can become applied); before,
 * the batch is missing, so its load never counts as applied.
 */
async function bookBatchOnceWhole (trx: Kysely<SisportaDatabase>, stream: string, batch: BatchToApply, part: BatchPart): Promise<void> {
  const parts = await trx.selectFrom(BOOKKEEPING.batchParts)
    .select((eb) => eb.fn.sum<string | number | null>('row_count').as('rows'))
    .where('stream', '=', stream).where('load_id', '=', batch.loadId).where('batch_no', '=', batch.batch)
    .executeTakeFirstOrThrow()
  if (Number(parts.rows ?? 0) !== part.batchRows) return
  await trx.insertInto(BOOKKEEPING.batches).ignore()
    .values({ stream, load_id: batch.loadId, batch_no: batch.batch, row_count: part.batchRows })
    .execute()
}

/** Errors that say the table is not what the statement was written for: a column gone, the table gone or changed. */
function isSchemaError (err: unknown): boolean {
  const e = err as { errno?: unknown, cause?: { errno?: unknown } } | undefined
  const errno = e?.errno ?? e?.cause?.errno
  return errno === MysqlErrno.BadField || errno === MysqlErrno.NoSuchTable || errno === MysqlErrno.TableDefChanged || errno === MysqlErrno.NoDefaultForField
}

/**
 * A value MySQL refused, with the row named as the batch numbers it (see `rowOfStatement`):
 * "Incorrect string value: '\xF0\x9F\x98\x80' for column `db`.`t`.`name` at row 3" (an emoji into
 * a latin1 column, strict mode) of the statement that starts at batch row 2000 is batch row 2002.
 */
function atBatchRow (err: unknown, first: number, stream: StreamConfig, batch: BatchToApply): unknown {
  const e = err as { errno?: unknown, message?: unknown }
  if (typeof e?.message !== 'string' || isTransientMysqlError(err)) return err
  const at = rowOfStatement(e.message, first)
  if (at === undefined) return err
  const errno = typeof e.errno === 'number' ? ` (MySQL error ${e.errno})` : ''
  return new PersistError('SIS_PERSIST_REJECTED', `batch ${batch.batch} of load ${batch.loadId} (stream '${stream.name}'): row ${at.row}, column '${at.column}': ${at.text}${errno}`, { cause: err })
}

/** Transient MySQL errors stay as they are (they are retried); every other failure is permanent. */
function classify (err: unknown, stream: StreamConfig, batch: BatchToApply): unknown {
  if (isTransientMysqlError(err) || err instanceof PersistError) return err
  const reason = err instanceof Error ? err.message : String(err)
  return new PersistError('SIS_PERSIST_REJECTED', `batch ${batch.batch} of load ${batch.loadId} (stream '${stream.name}'): ${reason}`, { cause: err })
}

const prepared = new WeakMap<StreamConfig, Map<string, UpsertStatement>>()

/** The upsert of a stream for one column list, prepared once (batches of a load share their columns). */
function upsertFor (db: Kysely<SisportaDatabase>, stream: StreamConfig, columns: readonly string[], flavour: ServerFlavour): UpsertStatement {
  let byColumns = prepared.get(stream)
  if (byColumns === undefined) {
    byColumns = new Map()
    prepared.set(stream, byColumns)
  }
  const key = `${flavour.rowAlias ? 'alias' : 'values'}:${columns.join(',')}`
  let upsert = byColumns.get(key)
  if (upsert === undefined) {
    upsert = prepareUpsert(db, stream, columns, flavour)
    if (byColumns.size < 64) byColumns.set(key, upsert)
  }
  return upsert
}
