import { CompiledQuery, sql, type QueryExecutorProvider, type RawBuilder } from 'kysely'
import type { StreamConfig } from '@sisporta/contracts'
import { STAMP, quoteId, type ServerFlavour } from '@sisporta/db'

/** Builds the upsert of some rows of one batch from their VALUES text (`renderRows` / `transcodeRows`). */
export type UpsertStatement = (values: string) => CompiledQuery

/** The row alias of the incoming values on MySQL 8.0.19+ (a name no target table column clashes with: it qualifies them). */
export const INCOMING_ROW = '_sisporta_new'

/**
 * Prepares the multi-row upsert of a stream's target table for one column list. On MariaDB (and
 * MySQL before 8.0.19) the incoming values are read with `VALUES(col)`:
 *
 * ```sql
 * INSERT INTO `products` (`sku`, `name`, `price`, `_sisporta_load`)
 * VALUES ('A1','Açúcar','12.50',42),('A2',NULL,'3',42)
 * ON DUPLICATE KEY UPDATE
 *   `name`  = IF(VALUES(`_sisporta_load`) >= COALESCE(`_sisporta_load`, 0), VALUES(`name`), `name`),
 *   `price` = IF(VALUES(`_sisporta_load`) >= COALESCE(`_sisporta_load`, 0), VALUES(`price`), `price`),
 *   `_sisporta_deleted_at` = IF(VALUES(`_sisporta_load`) >= COALESCE(`_sisporta_load`, 0), NULL, `_sisporta_deleted_at`),  -- soft deletes only
 *   `_sisporta_load` = GREATEST(COALESCE(`_sisporta_load`, 0), VALUES(`_sisporta_load`))
 * ```
 *
 * On MySQL 8.0.19+ (`flavour.rowAlias`), where `VALUES()` is deprecated (warning 1287 on every
 * statement), through a row alias instead: `VALUES (…),(…) AS `_sisporta_new` ON DUPLICATE KEY
 * UPDATE `name` = IF(`_sisporta_new`.`_sisporta_load` >= COALESCE(`_sisporta_load`, 0),
 * `_sisporta_new`.`name`, `name`), …`. Same meaning: `_sisporta_new`.col is always the value sent,
 * an unqualified column the stored row's.
 *
 * A row is only overwritten by a load at least as new as the one that last wrote it, so an
 * older load committed after a newer one (replicas commit in any order) leaves it alone. Key
 * columns are never assigned.
 *
 * The statement's text around the values is built once with Kysely's `sql` template and
 * compiled for `db`'s dialect; each call only puts the rows' VALUES text between the two. Table
 * and column names are any MySQL names (`InvoiceLine`, `Preço Unitário`, even with a dot or a
 * backtick), quoted by `quoteId`, the one quoting function (Kysely's `sql.ref` would read a dot
 * as `table.column`). The values are literals the persister wrote itself
 * (`sqlLiteral`, `transcodeRows`), not parameters: mysql2 would otherwise escape each of a
 * batch's ~20,000 values into the text one by one, the largest part of the persister's work.
 *
 * @example
 * const upsert = prepareUpsert(db, stream, ['sku', 'price'], await serverFlavour(db))
 * await trx.executeQuery(upsert("('A1','12.50',42),('A2','3',42)"))
 */
export function prepareUpsert (db: QueryExecutorProvider, stream: StreamConfig, columns: readonly string[], flavour: Pick<ServerFlavour, 'rowAlias'>): UpsertStatement {
  const target = [...columns.map(id), id(STAMP.load)]
  const head = sql`INSERT INTO ${id(stream.target.table)} (${sql.join(target)}) VALUES `.compile(db).sql
  const alias = flavour.rowAlias ? sql` AS ${id(INCOMING_ROW)}` : sql``
  const tail = sql`${alias} ON DUPLICATE KEY UPDATE ${updateClause(stream, columns, flavour.rowAlias)}`.compile(db).sql
  return (values) => CompiledQuery.raw(`${head}${values}${tail}`)
}

/** A quoted table or column name. */
function id (name: string): RawBuilder<unknown> {
  return sql.raw(quoteId(name))
}

function updateClause (stream: StreamConfig, columns: readonly string[], rowAlias: boolean): RawBuilder<unknown> {
  const stamp = id(STAMP.load)
  /** The value sent for a column: the row alias's column never changes while the row is updated. */
  const sent = (column: string): RawBuilder<unknown> => rowAlias ? sql`${id(INCOMING_ROW)}.${id(column)}` : sql`VALUES(${id(column)})`
  const incoming = sent(STAMP.load)
  // Compares with the stored stamp: every assignment below still sees the old one, because the
  // stamp itself is assigned last. (With the row alias too: only unqualified names read the row
  // being updated, and assignments change only those.)
  const notOlder = sql`${incoming} >= COALESCE(${stamp}, 0)`
  const keys = new Set(stream.target.key)
  const assignments = columns
    .filter((c) => !keys.has(c))
    .map((c) => sql`${id(c)} = IF(${notOlder}, ${sent(c)}, ${id(c)})`)
  if (stream.deletes === 'soft') {
    // A row a newer load sends again is back in the source: it is no longer deleted.
    assignments.push(sql`${id(STAMP.deletedAt)} = IF(${notOlder}, NULL, ${id(STAMP.deletedAt)})`)
  }
  // LAST, on purpose: MySQL (and MariaDB without SIMULTANEOUS_ASSIGNMENT) evaluates ON DUPLICATE
  // KEY UPDATE assignments left to right, and a column named in a later assignment reads the
  // value an earlier one just wrote. Were the stamp assigned first, every condition above would
  // compare the incoming load with the new stamp instead of the stored one.
  assignments.push(sql`${stamp} = GREATEST(COALESCE(${stamp}, 0), ${incoming})`)
  return sql.join(assignments)
}
