import { sql, type RawBuilder } from 'kysely'
import { STAMP, quoteId } from '@sisporta/db'

/**
 * The rows a full load found absent from the source — what reconciling it deletes (and what the
 * delete guard counts), one predicate for both:
 *
 * - a load of rows (`reload` absent) wrote every source row with its stamp, so the absent rows
 *   are those stamped by an older load or never: `_sisporta_load < id OR IS NULL`;
 * - a diffed load wrote only the rows that differed; its range comparisons marked every target
 *   row no source row matched with `−id`, and the rows it then sent carry `id` again, so the
 *   absent rows are exactly those still marked: `_sisporta_load = −id`. Rows the comparison found
 *   equal keep their older stamp and are never touched.
 *
 * Rows a newer load wrote carry a higher stamp and match neither.
 *
 * @example
 * absentPredicate(42)         // `_sisporta_load` < 42 OR `_sisporta_load` IS NULL
 * absentPredicate(42, 'diff') // `_sisporta_load` = -42
 */
export function absentPredicate (loadId: number, reload?: 'diff'): RawBuilder<unknown> {
  const stamp = sql.raw(quoteId(STAMP.load))
  return reload === 'diff' ? sql`(${stamp} = ${-loadId})` : sql`(${stamp} < ${loadId} OR ${stamp} IS NULL)`
}
