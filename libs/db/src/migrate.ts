import { sql, type Kysely } from 'kysely'
import type { SisportaConfig, StreamConfig } from '@sisporta/contracts'
import { BOOKKEEPING, STAMP, type SisportaDatabase } from './schema.js'
import { DbError } from './errors.js'
import { LIVE_INDEX, createTargetTableSql, quoteId } from './target-ddl.js'
import { keyCollationWarnings } from './key-collation.js'
import { checkTargetColumns, describeMismatches, readTargetColumns, type TargetColumn } from './target-columns.js'
import { serverFlavour } from './server-flavour.js'

export interface MigrateReport {
  /** What was done, one line per change, for the CLI to print. Empty when all was in place. */
  readonly changes: string[]
  /**
   * What needs an operator, one line each, for the CLI to print (nothing was changed for them):
   * a mapped text column that is not utf8mb4, with the ALTER that makes it so; a key column
   * whose collation treats distinct keys as one (case- or accent-insensitive, PAD SPACE), with the
   * ALTER that gives it a binary NO PAD collation; a datetime
   * mapped to a TIMESTAMP column, with the rule it is written under. Repeated on every run
   * until fixed.
   */
  readonly warnings: string[]
}

/** A target column as information_schema describes it (see target-columns.ts, shared with the persister). */
type ColumnInfo = TargetColumn

/**
 * Creates sisporta's bookkeeping tables and, per stream, the target table (when missing) or
 * the columns sisporta needs on an existing one (load stamp, soft-delete stamp, the index on the
 * stamp). Checks an existing target against the config: every mapped column must exist and
 * hold every value the stream declares (`checkTargetColumns`: digits of decimals and of
 * fractional seconds, lengths, integer ranges…). Idempotent.
 *
 * A mapped `string` or `json` column of an existing table whose character set is not utf8mb4
 * is reported in `warnings` with the `ALTER TABLE … MODIFY …` that converts it, keeping its
 * type, length, nullability, default and comment. It is a warning, not a refusal: the table may
 * be the application's own and only ever receive text its character set holds; a value it
 * cannot hold is refused loudly when it comes (strict mode: the batch is dead-lettered naming
 * row and column), never stored as `?`.
 *
 * @example
 * const { changes, warnings } = await migrate(db, config)
 */
export async function migrate (db: Kysely<SisportaDatabase>, config: SisportaConfig): Promise<MigrateReport> {
  const changes: string[] = []
  const warnings: string[] = []
  await db.schema.createTable(BOOKKEEPING.batches).ifNotExists()
    .addColumn('stream', 'varchar(63)', (c) => c.notNull())
    .addColumn('load_id', 'bigint', (c) => c.notNull())
    .addColumn('batch_no', 'integer', (c) => c.notNull())
    .addColumn('row_count', 'integer', (c) => c.notNull())
    .addColumn('applied_at', sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(6)`))
    .addPrimaryKeyConstraint('sisporta_batches_pk', ['stream', 'load_id', 'batch_no'])
    .execute()
  await db.schema.createTable(BOOKKEEPING.batchParts).ifNotExists()
    .addColumn('stream', 'varchar(63)', (c) => c.notNull())
    .addColumn('load_id', 'bigint', (c) => c.notNull())
    .addColumn('batch_no', 'integer', (c) => c.notNull())
    .addColumn('part', 'varchar(80)', (c) => c.notNull())
    .addColumn('row_count', 'integer', (c) => c.notNull())
    .addColumn('applied_at', sql`datetime(6)`, (c) => c.notNull().defaultTo(sql`CURRENT_TIMESTAMP(6)`))
    .addPrimaryKeyConstraint('sisporta_batch_parts_pk', ['stream', 'load_id', 'batch_no', 'part'])
    .execute()
  const collation = await pickCollation(db)
  const mariadb = await isMariadb(db)
  for (const stream of config.streams) {
    const columns = await readTargetColumns(db, stream.target.table)
    if (columns.size === 0) {
      await sql.raw(createTargetTableSql(stream, collation)).execute(db)
      changes.push(`created table ${stream.target.table} (stream ${stream.name})`)
      continue
    }
    checkExistingColumns(stream, columns)
    warnings.push(...charsetWarnings(stream, columns, collation, mariadb))
    // key columns that let distinct source keys compare equal ('a' = 'A', 'a' = 'a '): rows would merge
    warnings.push(...await keyCollationWarnings(db, stream, (column) => modifyToUtf8mb4(stream.target.table, columns.get(column)!, collation, mariadb)))
    warnings.push(...timestampWarnings(stream, columns))
    if (!columns.has(STAMP.load)) {
      await sql.raw(`ALTER TABLE ${quoteId(stream.target.table)} ADD COLUMN ${quoteId(STAMP.load)} BIGINT NULL, ADD KEY ${quoteId(`${STAMP.load}_idx`)} (${quoteId(STAMP.load)})`).execute(db)
      changes.push(`added ${STAMP.load} to ${stream.target.table}`)
    }
    if (stream.deletes === 'soft' && !columns.has(STAMP.deletedAt)) {
      await sql.raw(`ALTER TABLE ${quoteId(stream.target.table)} ADD COLUMN ${quoteId(STAMP.deletedAt)} DATETIME(6) NULL`).execute(db)
      changes.push(`added ${STAMP.deletedAt} to ${stream.target.table}`)
    }
    if (stream.deletes === 'soft' && !(await hasIndex(db, stream.target.table, LIVE_INDEX))) {
      await sql.raw(`ALTER TABLE ${quoteId(stream.target.table)} ADD KEY ${quoteId(LIVE_INDEX)} (${quoteId(STAMP.deletedAt)}, ${quoteId(STAMP.load)})`).execute(db)
      changes.push(`added index ${LIVE_INDEX} to ${stream.target.table}`)
    }
  }
  return { changes, warnings }
}

/** Wire types that carry arbitrary text: the only ones a non-utf8mb4 column may fail to hold. */
const TEXT_TYPES: ReadonlySet<string> = new Set(['string', 'json'])

function charsetWarnings (stream: StreamConfig, columns: Map<string, ColumnInfo>, binaryCollation: string, mariadb: boolean): string[] {
  const warnings: string[] = []
  for (const c of stream.columns) {
    const info = columns.get(c.name)
    if (info === undefined || !TEXT_TYPES.has(c.type) || info.CHARACTER_SET_NAME === null || info.CHARACTER_SET_NAME === 'utf8mb4') continue
    // keep the column's kind of comparison: binary stays binary, the rest compares as utf8mb4's general collation
    // a key column always gets the binary one: keys must compare exactly (see keyCollationWarnings)
    const collation = info.COLLATION_NAME?.endsWith('_bin') === true || stream.target.key.includes(c.name) ? binaryCollation : 'utf8mb4_general_ci'
    // utf8mb3 (utf8 before MySQL 8, NVARCHAR / NATIONAL CHAR) holds the Basic Multilingual Plane only
    const cannotHold = info.CHARACTER_SET_NAME === 'utf8mb3' || info.CHARACTER_SET_NAME === 'utf8'
      ? 'a character above U+FFFF (emoji, rarer CJK: 4 bytes in UTF-8)'
      : 'a value it cannot hold (emoji, CJK, most of Unicode)'
    warnings.push(`table '${stream.target.table}', column '${c.name}' (stream ${stream.name}) is ${info.CHARACTER_SET_NAME} (${info.COLLATION_NAME ?? '?'}), not utf8mb4: ` +
      `${cannotHold} is refused and its batch dead-lettered, naming row and column. To hold any text, run: ${modifyToUtf8mb4(stream.target.table, info, collation, mariadb)}`)
  }
  return warnings
}

/**
 * `ALTER TABLE … MODIFY …` converting one column to utf8mb4, restating what MODIFY would
 * otherwise drop: the type with its length (or enum/set values), NULL / NOT NULL, the default
 * and the comment.
 */
function modifyToUtf8mb4 (table: string, info: ColumnInfo, collation: string, mariadb: boolean): string {
  let definition = `${info.COLUMN_TYPE} CHARACTER SET utf8mb4 COLLATE ${collation} ${info.IS_NULLABLE === 'YES' ? 'NULL' : 'NOT NULL'}`
  // MariaDB reports a default as SQL ('abc' quoted, NULL as NULL); MySQL as the bare value
  if (info.COLUMN_DEFAULT !== null && !(mariadb && info.COLUMN_DEFAULT === 'NULL')) {
    definition += ` DEFAULT ${mariadb ? info.COLUMN_DEFAULT : quoteString(info.COLUMN_DEFAULT)}`
  }
  if (info.COLUMN_COMMENT !== '') definition += ` COMMENT ${quoteString(info.COLUMN_COMMENT)}`
  return `ALTER TABLE ${quoteId(table)} MODIFY ${quoteId(info.COLUMN_NAME)} ${definition};`
}

function quoteString (value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`
}

async function isMariadb (db: Kysely<SisportaDatabase>): Promise<boolean> {
  return (await serverFlavour(db)).server === 'mariadb'
}

/** A binary NO PAD collation where the server has one: keys then compare byte for byte. */
async function pickCollation (db: Kysely<SisportaDatabase>): Promise<string> {
  const { rows } = await sql<{ COLLATION_NAME: string }>`SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')`.execute(db)
  const names = new Set(rows.map((r) => r.COLLATION_NAME))
  if (names.has('utf8mb4_nopad_bin')) return 'utf8mb4_nopad_bin'
  if (names.has('utf8mb4_0900_bin')) return 'utf8mb4_0900_bin'
  return 'utf8mb4_bin'
}

async function hasIndex (db: Kysely<SisportaDatabase>, table: string, index: string): Promise<boolean> {
  const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${table} AND INDEX_NAME = ${index}`.execute(db)
  return Number(rows[0]?.n ?? 0) > 0
}

/**
 * A `datetime` mapped to a TIMESTAMP column works, under one rule the operator must know: MySQL
 * stores a TIMESTAMP as an instant, converting from the writing session's time zone, and
 * sisporta's sessions are pinned to +00:00 — so the ERP's wall clock is stored as if it were
 * UTC, and an application reading with another `time_zone` sees it shifted. Values outside
 * TIMESTAMP's range (1970-01-01 00:00:01 to 2038-01-19 03:14:07) are refused by the server in
 * strict mode: the batch is dead-lettered naming row and column.
 */
function timestampWarnings (stream: StreamConfig, columns: Map<string, ColumnInfo>): string[] {
  return stream.columns.filter((c) => c.type === 'datetime' && columns.get(c.name)?.DATA_TYPE === 'timestamp').map((c) =>
    `table '${stream.target.table}', column '${c.name}' (stream ${stream.name}) is a TIMESTAMP: sisporta writes the ERP's wall clock in the time zone +00:00, ` +
    'so the column holds it as a UTC instant (an application reading it with another time_zone sees it shifted), and a value outside ' +
    '1970-01-01 00:00:01 … 2038-01-19 03:14:07 is refused and its batch dead-lettered. Use DATETIME unless the ERP\'s clock is UTC.')
}

/**
 * Refuses an existing target that cannot hold every value the stream declares, or lacks a mapped
 * column: the same check the persister makes when it first writes a stream (`checkTargetColumns`).
 */
function checkExistingColumns (stream: StreamConfig, columns: Map<string, ColumnInfo>): void {
  const mismatches = checkTargetColumns(stream, columns)
  if (mismatches.length === 0) return
  throw new DbError(mismatches.some((m) => m.actual !== undefined) ? 'SIS_DB_TARGET_TYPE' : 'SIS_DB_TARGET_COLUMN', describeMismatches(stream, mismatches))
}
