import { sql, type Kysely } from 'kysely'
import { STAMP, quoteId, type SisportaDatabase } from '@sisporta/db'
import { absentPredicate } from './absent-predicate.js'
import type { DeleteTarget } from './target.js'

export interface AbsentRows {
  /** Live rows of the target table (soft deletes: rows not marked deleted). */
  readonly tableRows: number
  /** Live rows that load `loadId` did not write or confirm: stamped by an older load, or never. */
  readonly absentRows: number
}

/**
 * Counts what reconciling load `loadId` would delete, for the delete guard (a diffed load:
 * the rows its comparisons marked absent, see absent-predicate.ts). The predicate is
 * the one {@link deleteAbsentRows} uses, so the count is what a delete would touch now.
 *
 * @example
 * const { tableRows, absentRows } = await countAbsentRows(db, { table: 'products', deletes: 'hard' }, 42)
 */
export async function countAbsentRows (db: Kysely<SisportaDatabase>, target: DeleteTarget, loadId: number, reload?: 'diff'): Promise<AbsentRows> {
  const live = target.deletes === 'soft' ? sql`WHERE ${sql.raw(quoteId(STAMP.deletedAt))} IS NULL` : sql``
  const { rows } = await sql<{ tableRows: string | number, absentRows: string | number | null }>`
    SELECT COUNT(*) AS tableRows, SUM(${absentPredicate(loadId, reload)}) AS absentRows
    FROM ${sql.raw(quoteId(target.table))} ${live}`.execute(db)
  const row = rows[0]
  return { tableRows: Number(row?.tableRows ?? 0), absentRows: Number(row?.absentRows ?? 0) }
}
