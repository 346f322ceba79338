import { sql, type Kysely, type RawBuilder } from 'kysely'
import { STAMP, foreignKeyFailure, quoteId, type ForeignKeyFailure, type SisportaDatabase } from '@sisporta/db'
import type { DeleteTarget } from './target.js'
import { absentPredicate } from './absent-predicate.js'

export interface DeleteAbsentRowsOptions {
  /** The load being reconciled: rows stamped with it or a newer load are never touched. */
  readonly loadId: number
  /** `diff`: a diffed load, which deletes only the rows its comparisons marked (absent-predicate.ts). */
  readonly reload?: 'diff' | undefined
  /** Rows per statement (each statement is its own short transaction). */
  readonly chunk: number
  /**
   * Most rows this call may delete: the rows the delete guard counted (or the operator approved).
   * Whatever happens between the count and the deletes — a predicate that would match more than
   * was counted, rows arriving behind sisporta's back — never deletes more than that.
   */
  readonly maxRows?: number
  /** Asked before every chunk; `false` stops (an operator discarded the load, a newer one took over). */
  readonly stillCurrent?: () => Promise<boolean>
  /** Stops between chunks (shutdown). */
  readonly signal?: AbortSignal
  /** Called after every chunk with the rows it affected (metrics, progress). */
  readonly onChunk?: (affected: number) => void
}

export interface DeleteAbsentRowsResult {
  /** Rows this call deleted (or marked deleted). */
  readonly deletedRows: number
  readonly chunks: number
  /** False when stopped before the last chunk by `stillCurrent`, `signal` or a foreign key. */
  readonly completed: boolean
  /** True when `maxRows` rows were deleted: rows still matching were left alone. */
  readonly budgetReached?: boolean
  /**
   * Set when a foreign key refused a chunk: a row to delete is still referred to by a child
   * row (MySQL refuses the whole statement, so the chunk deleted nothing).
   */
  readonly referenced?: ForeignKeyFailure
}

/**
 * Removes the target rows a full load did not contain: rows stamped by an older load, or never
 * stamped (a diffed load: the rows its comparisons marked absent; see absent-predicate.ts). Hard deletes `DELETE` them, soft deletes set `_sisporta_deleted_at`. Works in chunks
 * of `chunk` rows, each statement its own transaction (short row locks; the persisters keep
 * writing meanwhile), until a chunk affects fewer rows than the limit.
 *
 * Never more than `maxRows` rows: the count the delete guard judged (see the option).
 *
 * Idempotent: a crash mid-way, or two replicas deleting at once, leave the same table, because
 * every chunk uses the same predicate, and rows a newer load wrote carry a higher stamp.
 *
 * A chunk a foreign key refuses (a row still referred to by a child table) stops the work with
 * `referenced` saying which constraint: the caller decides whether to wait for the child stream
 * or to hold the load (referenced-rows.ts). Any other error is thrown.
 *
 * @example
 * const { deletedRows } = await deleteAbsentRows(db, { table: 'products', deletes: 'hard' }, { loadId: 42, chunk: 5000 })
 */
export async function deleteAbsentRows (db: Kysely<SisportaDatabase>, target: DeleteTarget, options: DeleteAbsentRowsOptions): Promise<DeleteAbsentRowsResult> {
  if (target.deletes === 'none') return { deletedRows: 0, chunks: 0, completed: true }
  const table = sql.raw(quoteId(target.table))
  const absent = absentPredicate(options.loadId, options.reload)
  const deletedAt = sql.raw(quoteId(STAMP.deletedAt))
  const chunk = Math.max(1, Math.floor(options.chunk))
  const budget = options.maxRows === undefined ? Number.POSITIVE_INFINITY : Math.max(0, Math.floor(options.maxRows))
  const statement = (limit: number): RawBuilder<unknown> => target.deletes === 'hard'
    ? sql`DELETE FROM ${table} WHERE ${absent} LIMIT ${limit}`
    : sql`UPDATE ${table} SET ${deletedAt} = NOW(6) WHERE ${absent} AND ${deletedAt} IS NULL LIMIT ${limit}`
  let deletedRows = 0
  let chunks = 0
  for (;;) {
    // the budget spent by a full last chunk: more rows may match, they are left alone
    if (deletedRows >= budget) return { deletedRows, chunks, completed: true, budgetReached: chunks > 0 }
    const limit = Math.min(chunk, budget - deletedRows)
    if (options.signal?.aborted === true) return { deletedRows, chunks, completed: false }
    // only the load still entitled to delete may go on: re-checked before every chunk
    if (options.stillCurrent !== undefined && !(await options.stillCurrent())) return { deletedRows, chunks, completed: false }
    let result
    try {
      result = await statement(limit).execute(db)
    } catch (err) {
      const referenced = foreignKeyFailure(err)
      if (referenced?.kind === 'still-referenced') return { deletedRows, chunks, completed: false, referenced }
      throw err
    }
    const affected = Number(result.numAffectedRows ?? 0n)
    deletedRows += affected
    chunks++
    options.onChunk?.(affected)
    if (affected < limit) return { deletedRows, chunks, completed: true }
  }
}
