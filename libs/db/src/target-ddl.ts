import { DATETIME_DEFAULTS, DECIMAL_DEFAULTS, mysqlIdentifierProblem, type ColumnMapping, type StreamConfig } from '@sisporta/contracts'
import { DbError } from './errors.js'
import { STAMP } from './schema.js'

/** Index of soft-delete tables over (deleted-at, load): the reconciler's scan of live rows. */
export const LIVE_INDEX = '_sisporta_live_idx'

/**
 * Quotes a MySQL identifier: backticks around it, a backtick in it doubled. The one quoting
 * function for every target table and column name sisporta writes into SQL (DDL, upserts,
 * deletes, counts, status): names are any MySQL identifier the config accepts (`Album`,
 * `Preço Unitário`, `` we`ird ``), so every one is quoted, always. A name the config would have
 * refused (see `mysqlIdentifierProblem`: NUL, control characters, too long…) throws
 * `SIS_DB_IDENTIFIER` instead of reaching the server.
 *
 * @example
 * quoteId('InvoiceLine') // '`InvoiceLine`'
 * quoteId('we`ird')      // '`we``ird`'
 */
export function quoteId (name: string): string {
  const problem = mysqlIdentifierProblem(name)
  if (problem !== undefined) throw new DbError('SIS_DB_IDENTIFIER', `${JSON.stringify(name)} is not a MySQL name sisporta writes: it ${problem}`)
  return `\`${name.replaceAll('`', '``')}\``
}

/** The MySQL column type sisporta creates for a mapped column. */
export function mysqlColumnType (column: ColumnMapping, isKey: boolean): string {
  switch (column.type) {
    case 'string':
      if (column.length !== undefined) return column.length <= 16383 ? `VARCHAR(${column.length})` : 'LONGTEXT'
      return isKey ? 'VARCHAR(255)' : 'LONGTEXT'
    case 'int': return 'INT'
    case 'bigint': return 'BIGINT'
    case 'decimal': return `DECIMAL(${column.precision ?? DECIMAL_DEFAULTS.precision},${column.scale ?? DECIMAL_DEFAULTS.scale})`
    case 'float': return 'DOUBLE'
    case 'bool': return 'TINYINT(1)'
    case 'date': return 'DATE'
    case 'datetime': return `DATETIME(${column.precision ?? DATETIME_DEFAULTS.precision})`
    case 'uuid': return 'CHAR(36)'
    case 'binary': return column.length !== undefined && column.length <= 65535 ? `VARBINARY(${column.length})` : 'LONGBLOB'
    case 'json': return 'JSON'
  }
}

/**
 * `CREATE TABLE` for a stream's target: mapped columns, the key as primary key, the stamp
 * columns and the index the reconciler's deletes walk. `collation` should be a binary NO PAD
 * collation so that keys compare exactly as the source sent them ('a' ≠ 'A' ≠ 'a ').
 */
export function createTargetTableSql (stream: StreamConfig, collation: string): string {
  const keys = new Set(stream.target.key)
  const lines = stream.columns.map((c) => {
    const nullable = keys.has(c.name) || c.nullable === false ? 'NOT NULL' : 'NULL'
    return `  ${quoteId(c.name)} ${mysqlColumnType(c, keys.has(c.name))} ${nullable}`
  })
  lines.push(`  ${quoteId(STAMP.load)} BIGINT NULL`)
  if (stream.deletes === 'soft') lines.push(`  ${quoteId(STAMP.deletedAt)} DATETIME(6) NULL`)
  lines.push(`  PRIMARY KEY (${stream.target.key.map(quoteId).join(', ')})`)
  lines.push(`  KEY ${quoteId(`${STAMP.load}_idx`)} (${quoteId(STAMP.load)})`)
  // Soft deletes: live rows are found without walking over the rows already marked deleted.
  if (stream.deletes === 'soft') lines.push(`  KEY ${quoteId(LIVE_INDEX)} (${quoteId(STAMP.deletedAt)}, ${quoteId(STAMP.load)})`)
  return `CREATE TABLE ${quoteId(stream.target.table)} (\n${lines.join(',\n')}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${collation}`
}
