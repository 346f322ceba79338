import type { Kysely } from 'kysely'
import { BOOKKEEPING, type SisportaDatabase } from '@sisporta/db'

export interface AppliedBatches {
  /** Batches of the load recorded in sisporta_batches. */
  readonly batches: number
  /** Rows those batches held. */
  readonly rows: number
  /** Batch numbers 0..sealedBatches-1 not recorded yet, ascending. */
  readonly missing: readonly number[]
  /** Recorded batch numbers outside 0..sealedBatches-1 (the extractor's seal contradicts its batches). */
  readonly beyond: readonly number[]
}

/**
 * Counts what the persisters recorded for one load: one row per committed batch, written in the
 * same transaction as the batch's rows, so this is exactly what the target holds of the load.
 * The batch numbers are only read when the count does not already prove all are there.
 *
 * @example
 * const { batches, rows, missing } = await countAppliedBatches(db, 'products', 42, 10)
 */
export async function countAppliedBatches (db: Kysely<SisportaDatabase>, stream: string, loadId: number, sealedBatches: number): Promise<AppliedBatches> {
  const summary = await db.selectFrom(BOOKKEEPING.batches)
    .select((eb) => [
      eb.fn.countAll<string | number>().as('batches'),
      eb.fn.sum<string | number | null>('row_count').as('rows'),
      eb.fn.min<number | null>('batch_no').as('first'),
      eb.fn.max<number | null>('batch_no').as('last')
    ])
    .where('stream', '=', stream)
    .where('load_id', '=', loadId)
    .executeTakeFirstOrThrow()
  const batches = Number(summary.batches)
  const rows = Number(summary.rows ?? 0)
  // The primary key (stream, load_id, batch_no) makes batch numbers distinct: n of them, all in 0..n-1, is all of them.
  if (batches === sealedBatches && (batches === 0 || (Number(summary.first) >= 0 && Number(summary.last) === sealedBatches - 1))) {
    return { batches, rows, missing: [], beyond: [] }
  }
  // read again, in one statement, so that counts and numbers describe the same moment (batches keep arriving)
  const recorded = await db.selectFrom(BOOKKEEPING.batches).select(['batch_no', 'row_count'])
    .where('stream', '=', stream)
    .where('load_id', '=', loadId)
    .orderBy('batch_no')
    .execute()
  const present = new Set(recorded.map((r) => Number(r.batch_no)))
  const missing: number[] = []
  for (let n = 0; n < sealedBatches; n++) if (!present.has(n)) missing.push(n)
  const beyond = [...present].filter((n) => n < 0 || n >= sealedBatches)
  return { batches: recorded.length, rows: recorded.reduce((sum, r) => sum + Number(r.row_count), 0), missing, beyond }
}
