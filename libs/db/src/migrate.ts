import { sql, type Kysely } from 'kysely'
import { DECIMAL_DEFAULTS, type SisportaConfig, type StreamConfig } from '@sisporta/contracts'
import { BOOKKEEPING, STAMP, type SisportaDatabase } from './schema.js'
import { DbError } from './errors.js'
import { LIVE_INDEX, createTargetTableSql, quoteId } from './target-ddl.js'

export interface MigrateReport {
  /** What was done, one line per change, for the CLI to print. Empty when all was in place. */
  readonly changes: string[]
  /**
   * What needs an operator, one line each, for the CLI to print (nothing was changed for them):
   * a mapped text column that is not utf8mb4, with the ALTER that makes it so. Repeated on
   * every run until fixed.
   */
  readonly warnings: string[]
}

interface ColumnInfo {
  COLUMN_NAME: string
  DATA_TYPE: string
  COLUMN_TYPE: string
  NUMERIC_PRECISION: string | number | null
  NUMERIC_SCALE: string | number | null
  DATETIME_PRECISION: string | number | null
  CHARACTER_SET_NAME: string | null
  COLLATION_NAME: string | null
  IS_NULLABLE: string
  COLUMN_DEFAULT: string | null
  COLUMN_COMMENT: string
}

/**
 * Creates sisporta's bookkeeping tables and, per stream, the target table (when missing) or
 * the columns sisporta needs on an existing one (load stamp, soft-delete stamp, the index on the
 * stamp). Checks an existing target against the config: every mapped column must exist, and a
 * decimal or datetime column must keep every digit the stream declares. Idempotent.
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
  const collation = await pickCollation(db)
  const mariadb = await isMariadb(db)
  for (const stream of config.streams) {
    const columns = await readColumns(db, stream.target.table)
    if (columns.size === 0) {
      await sql.raw(createTargetTableSql(stream, collation)).execute(db)
      changes.push(`created table ${stream.target.table} (stream ${stream.name})`)
      continue
    }
    checkExistingColumns(stream, columns)
    warnings.push(...charsetWarnings(stream, columns, collation, mariadb))
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
    const collation = info.COLLATION_NAME?.endsWith('_bin') === true ? binaryCollation : 'utf8mb4_general_ci'
    warnings.push(`table '${stream.target.table}', column '${c.name}' (stream ${stream.name}) is ${info.CHARACTER_SET_NAME} (${info.COLLATION_NAME ?? '?'}), not utf8mb4: ` +
      `a value it cannot hold (emoji, CJK, most of Unicode) is refused and its batch dead-lettered. To hold any text, run: ${modifyToUtf8mb4(stream.target.table, info, collation, mariadb)}`)
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
  const { rows } = await sql<{ v: string }>`SELECT VERSION() AS v`.execute(db)
  return /mariadb/i.test(rows[0]?.v ?? '')
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

async function readColumns (db: Kysely<SisportaDatabase>, table: string): Promise<Map<string, ColumnInfo>> {
  const { rows } = await sql<ColumnInfo>`SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, COLLATION_NAME,
    IS_NULLABLE, COLUMN_DEFAULT, COLUMN_COMMENT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${table}`.execute(db)
  return new Map(rows.map((r) => [r.COLUMN_NAME, r]))
}

function checkExistingColumns (stream: StreamConfig, columns: Map<string, ColumnInfo>): void {
  const where = `stream '${stream.name}', target table '${stream.target.table}'`
  for (const c of stream.columns) {
    const info = columns.get(c.name)
    if (info === undefined) throw new DbError('SIS_DB_TARGET_COLUMN', `${where}: column '${c.name}' does not exist (add it, or let sisporta create the table)`)
    if (c.type === 'decimal') {
      const precision = c.precision ?? DECIMAL_DEFAULTS.precision
      const scale = c.scale ?? DECIMAL_DEFAULTS.scale
      const p = Number(info.NUMERIC_PRECISION)
      const s = Number(info.NUMERIC_SCALE)
      if (info.DATA_TYPE !== 'decimal' || s < scale || p - s < precision - scale) {
        throw new DbError('SIS_DB_TARGET_TYPE', `${where}: column '${c.name}' is ${info.DATA_TYPE}(${p},${s}) but the stream declares decimal(${precision},${scale}); values would be rounded`)
      }
    }
    if (c.type === 'datetime' && info.DATA_TYPE === 'datetime' && Number(info.DATETIME_PRECISION) < 6) {
      throw new DbError('SIS_DB_TARGET_TYPE', `${where}: column '${c.name}' is datetime(${String(info.DATETIME_PRECISION)}); sisporta needs datetime(6) to keep microseconds`)
    }
  }
}
