import { sql, type Kysely } from 'kysely'
import { STAMP, quoteId, type SisportaDatabase } from '@sisporta/db'

/** Target rows carrying a load's stamp, or a newer one. */
export interface StampedRows {
  /** Rows stamped by the load itself: rows it wrote that no newer load wrote since. */
  readonly own: number
  /** Rows stamped by a newer load: some of them the load wrote too (a newer load re-stamps the rows it sends). */
  readonly newer: number
}

/**
 * Counts the rows of `table` that carry load `loadId`'s stamp, and those that carry a newer
 * load's: what {@link missingRows} compares with the rows the load sent. Soft-deleted rows count
 * like the others: a row a load sends again is live again, and the only deletes that reach rows
 * stamped by the load or a newer one belong to a newer load's reconciliation — which supersedes it.
 * One range over the stamp's index (`_sisporta_load_idx`), from the load's id up.
 *
 * @example
 * const { own, newer } = await countStampedRows(db, 'products', 42) // { own: 998, newer: 0 }
 */
export async function countStampedRows (db: Kysely<SisportaDatabase>, table: string, loadId: number): Promise<StampedRows> {
  const stamp = sql.raw(quoteId(STAMP.load))
  const { rows } = await sql<{ own: string | number | null, newer: string | number | null }>`
    SELECT SUM(${stamp} = ${loadId}) AS own, SUM(${stamp} > ${loadId}) AS newer
    FROM ${sql.raw(quoteId(table))} WHERE ${stamp} >= ${loadId}`.execute(db)
  return { own: Number(rows[0]?.own ?? 0), newer: Number(rows[0]?.newer ?? 0) }
}

/**
 * How many of the `sent` rows of an applied full load are proven missing from the target: not
 * one of the rows carrying its stamp, nor one a newer load re-stamped.
 *
 * The rule: once a full load is applied, every row it sent is in the target stamped by it — or
 * by a newer load that wrote the same key since (or before: a late batch of an older load
 * changes nothing). No one removes such a row while the load may still reconcile: only a newer
 * full load's reconciliation would, and that newer load supersedes it. So, with `own` and `newer`
 * from {@link countStampedRows}:
 * - `own = sent`: every row arrived (the usual case, newer loads or not);
 * - `own + newer < sent`: at least `sent − own − newer` rows are missing — merged into another
 *   row by a key the target compares loosely (`'a'` = `'A'`, `'a'` = `'a '`), by a second unique
 *   index, or removed: the load must not be called a mirror;
 * - otherwise newer loads have re-stamped rows, and merged rows cannot be told from re-stamped
 *   ones: 0, inconclusive, never a wrong failure (a newer full load counts the same keys again).
 *
 * @example
 * missingRows(1000, { own: 998, newer: 0 }) // 2
 * missingRows(1000, { own: 990, newer: 15 }) // 0 (inconclusive)
 */
export function missingRows (sent: number, stamped: StampedRows): number {
  return Math.max(0, sent - stamped.own - stamped.newer)
}
