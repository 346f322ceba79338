import { sql, type QueryExecutorProvider } from 'kysely'
import { DATETIME_DEFAULTS, DECIMAL_DEFAULTS, type ColumnMapping, type StreamConfig } from '@sisporta/contracts'
import { STAMP } from './schema.js'

/** A column of a target table as `information_schema.COLUMNS` describes it (plus its character set's bytes per character). */
export interface TargetColumn {
  readonly COLUMN_NAME: string
  readonly DATA_TYPE: string
  readonly COLUMN_TYPE: string
  readonly NUMERIC_PRECISION: string | number | null
  readonly NUMERIC_SCALE: string | number | null
  readonly DATETIME_PRECISION: string | number | null
  /** char/varchar: characters; text types: bytes. */
  readonly CHARACTER_MAXIMUM_LENGTH: string | number | null
  readonly CHARACTER_OCTET_LENGTH: string | number | null
  readonly CHARACTER_SET_NAME: string | null
  /** Most bytes one character of the column's character set takes (utf8mb4: 4). */
  readonly CHARSET_MAXLEN: string | number | null
  readonly COLLATION_NAME: string | null
  readonly IS_NULLABLE: string
  readonly COLUMN_DEFAULT: string | null
  readonly COLUMN_COMMENT: string
}

/**
 * The columns of one target table by name, exactly as the table spells them (sisporta uses names
 * exactly as written in the config). Empty: no such table.
 */
export type TargetColumns = Map<string, TargetColumn>

/** One mapped column a target table cannot hold every value of, or lacks. */
export interface ColumnMismatch {
  readonly column: string
  /** What the stream declares, as `decimal(19,4)`, `string(40)`, `datetime(6)`. */
  readonly declared: string
  /** The target column's type (`decimal(12,1)`), or undefined when the table lacks the column. */
  readonly actual: string | undefined
  /** The sentence about this column, for messages: names the column, both types and why. */
  readonly message: string
}

/**
 * Reads a target table's columns (in the connection's current database).
 *
 * @example
 * const columns = await readTargetColumns(db, 'products')
 * columns.get('price')?.COLUMN_TYPE // 'decimal(19,4)'
 */
export async function readTargetColumns (db: QueryExecutorProvider, table: string): Promise<TargetColumns> {
  const { rows } = await sql<TargetColumn>`SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.NUMERIC_PRECISION, c.NUMERIC_SCALE, c.DATETIME_PRECISION,
    c.CHARACTER_MAXIMUM_LENGTH, c.CHARACTER_OCTET_LENGTH, c.CHARACTER_SET_NAME, s.MAXLEN AS CHARSET_MAXLEN, c.COLLATION_NAME,
    c.IS_NULLABLE, c.COLUMN_DEFAULT, c.COLUMN_COMMENT
    FROM information_schema.COLUMNS c LEFT JOIN information_schema.CHARACTER_SETS s ON s.CHARACTER_SET_NAME = c.CHARACTER_SET_NAME
    WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = ${table}`.execute(db)
  return new Map(rows.map((r) => [r.COLUMN_NAME, r]))
}

/**
 * The mapped columns of `stream` that its target table cannot hold every value of — every value
 * the stream's declaration allows, not only those sent so far — or that it lacks. With
 * `stamps`, also sisporta's own columns (`_sisporta_load`, and `_sisporta_deleted_at` for soft
 * deletes), which `migrate` adds. Empty when the table can take any batch of the stream.
 *
 * What a column must be, by wire type (MySQL would otherwise round, truncate, pad or convert —
 * some of it without even a note, such as the fractional seconds of a datetime):
 *
 * | wire type | target column |
 * |---|---|
 * | `decimal(P,S)` | `DECIMAL` with at least S digits after the point and P−S before it |
 * | `int` / `bigint` | an integer type whose range holds ±2³¹ / ±2⁶³ (signed `INT`/`BIGINT`), or a `DECIMAL` with 10 / 19 integer digits |
 * | `bool` | any integer type, `BIT`, or a `DECIMAL` with an integer digit |
 * | `float` | `DOUBLE` (`FLOAT` keeps 24 bits) |
 * | `string(L)` | `VARCHAR` of ≥ L characters, or a `TEXT` type holding L characters of its character set; without `length`, `LONGTEXT` (a key: the `VARCHAR(255)` migrate creates). Not `CHAR` (drops trailing blanks), `ENUM`/`SET` |
 * | `binary(L)` | `VARBINARY` or a `BLOB` type of ≥ L bytes; without `length`, `LONGBLOB`. Not `BINARY` (pads with zero bytes) |
 * | `date` | `DATE` |
 * | `datetime(F)` | `DATETIME` or `TIMESTAMP` with ≥ F fractional digits (a `TIMESTAMP` refuses dates outside 1970–2038 loudly) |
 * | `uuid` | `CHAR`/`VARCHAR`/`TEXT` of ≥ 36 characters |
 * | `json` | `JSON` (MariaDB reports it as `LONGTEXT`) or `LONGTEXT` |
 *
 * The character set is not checked: a value the column's character set cannot hold is refused
 * by MySQL in strict mode (an error naming row and column), and `migrate` warns about such
 * columns. Nullability neither: strict mode refuses a NULL in a NOT NULL column loudly.
 *
 * @example
 * checkTargetColumns(stream, await readTargetColumns(db, 'orders'))
 * // [{ column: 'qty', declared: 'decimal(19,4)', actual: 'decimal(12,1)',
 * //    message: "column 'qty' is decimal(12,1) but the stream declares decimal(19,4); values would be rounded" }]
 */
export function checkTargetColumns (stream: StreamConfig, columns: TargetColumns, options: { stamps?: boolean } = {}): ColumnMismatch[] {
  const keys = new Set(stream.target.key)
  const mismatches: ColumnMismatch[] = []
  for (const c of stream.columns) {
    const declared = declaredType(c, keys.has(c.name))
    const info = columns.get(c.name)
    if (info === undefined) {
      // MySQL would accept the name in any case; sisporta compares names as written (messages, checks)
      const spelled = [...columns.keys()].find((name) => name.toLowerCase() === c.name.toLowerCase())
      mismatches.push({
        column: c.name,
        declared,
        actual: undefined,
        message: spelled !== undefined
          ? `column '${c.name}' is spelled '${spelled}' in the table; write '${spelled}' in the config (sisporta uses names exactly as written)`
          : `column '${c.name}' does not exist (add it, or let sisporta create the table)`
      })
      continue
    }
    const message = cannotHold(c, keys.has(c.name), info, declared)
    if (message !== undefined) mismatches.push({ column: c.name, declared, actual: info.COLUMN_TYPE, message })
  }
  if (options.stamps === true) {
    const load = columns.get(STAMP.load)
    if (load === undefined || !holdsSigned(load, 64)) {
      mismatches.push({ column: STAMP.load, declared: 'bigint', actual: load?.COLUMN_TYPE, message: `column '${STAMP.load}' ${load === undefined ? 'does not exist' : `is ${load.COLUMN_TYPE}, not bigint`}: sisporta stamps every row with its load there (run \`sisporta migrate\`)` })
    }
    const deleted = columns.get(STAMP.deletedAt)
    if (stream.deletes === 'soft' && (deleted === undefined || !holdsDatetime(deleted, 6))) {
      mismatches.push({ column: STAMP.deletedAt, declared: 'datetime(6)', actual: deleted?.COLUMN_TYPE, message: `column '${STAMP.deletedAt}' ${deleted === undefined ? 'does not exist' : `is ${deleted.COLUMN_TYPE}, not datetime(6)`}: sisporta marks soft-deleted rows there (run \`sisporta migrate\`)` })
    }
  }
  return mismatches
}

/**
 * One line naming stream and table, then each mismatch with both types, for an error message.
 *
 * @example
 * describeMismatches(stream, mismatches)
 * // "stream 'orders', target table 'orders': column 'qty' is decimal(12,1) but the stream declares decimal(19,4); values would be rounded"
 */
export function describeMismatches (stream: StreamConfig, mismatches: readonly ColumnMismatch[]): string {
  return `stream '${stream.name}', target table '${stream.target.table}': ${mismatches.map((m) => m.message).join(' — ')}`
}

/** Characters of a key string without `length`: the VARCHAR(255) `migrate` creates for it. */
const UNBOUNDED_KEY_LENGTH = 255

function declaredType (c: Readonly<ColumnMapping>, isKey: boolean): string {
  switch (c.type) {
    case 'decimal': return `decimal(${c.precision ?? DECIMAL_DEFAULTS.precision},${c.scale ?? DECIMAL_DEFAULTS.scale})`
    case 'datetime': return `datetime(${c.precision ?? DATETIME_DEFAULTS.precision})`
    case 'string': return c.length !== undefined ? `string(${c.length})` : isKey ? `string (a key: ${UNBOUNDED_KEY_LENGTH} characters)` : 'string of any length'
    case 'binary': return c.length !== undefined ? `binary(${c.length})` : 'binary of any length'
    default: return c.type
  }
}

const INTEGER_BITS: Readonly<Record<string, number>> = { tinyint: 8, smallint: 16, mediumint: 24, int: 32, integer: 32, bigint: 64 }
const TEXT_TYPES: ReadonlySet<string> = new Set(['tinytext', 'text', 'mediumtext', 'longtext'])
const BLOB_TYPES: ReadonlySet<string> = new Set(['tinyblob', 'blob', 'mediumblob', 'longblob'])

/** The sentence saying why `info` cannot hold every value of column `c`, or undefined when it can. */
function cannotHold (c: Readonly<ColumnMapping>, isKey: boolean, info: TargetColumn, declared: string): string | undefined {
  const type = info.DATA_TYPE.toLowerCase()
  const refuse = (why: string): string => `column '${c.name}' is ${info.COLUMN_TYPE} but the stream declares ${declared}; ${why}`
  switch (c.type) {
    case 'decimal': {
      const scale = c.scale ?? DECIMAL_DEFAULTS.scale
      const intDigits = (c.precision ?? DECIMAL_DEFAULTS.precision) - scale
      if (type !== 'decimal') return refuse('values would be converted')
      if (num(info.NUMERIC_SCALE) < scale) return refuse('values would be rounded')
      if (num(info.NUMERIC_PRECISION) - num(info.NUMERIC_SCALE) < intDigits) return refuse('values would be out of range')
      return undefined
    }
    case 'int': return holdsSigned(info, 32) ? undefined : refuse('values would be out of range or converted')
    case 'bigint': return holdsSigned(info, 64) ? undefined : refuse('values would be out of range or converted')
    case 'bool':
      return INTEGER_BITS[type] !== undefined || type === 'bit' || (type === 'decimal' && num(info.NUMERIC_PRECISION) > num(info.NUMERIC_SCALE)) ? undefined : refuse('values would be converted')
    case 'float': return type === 'double' ? undefined : refuse('values would lose precision or be converted')
    case 'date': return type === 'date' ? undefined : refuse('values would be converted')
    case 'datetime': {
      const digits = c.precision ?? DATETIME_DEFAULTS.precision
      if (holdsDatetime(info, digits)) return undefined
      if (type !== 'datetime' && type !== 'timestamp') return refuse('values would be converted')
      // MySQL drops the extra digits without even a note: only this check stands between them and the table
      const kept = num(info.DATETIME_PRECISION)
      return `column '${c.name}' is ${info.COLUMN_TYPE} (${kept} fractional digits) but the stream declares datetime precision ${digits}; values would be rounded or cut. ` +
        `If the source never has more than ${kept} fractional digits, declare \`precision: ${kept}\` on the column (values with more are then refused); otherwise make the column ${type.toUpperCase()}(${digits})`
    }
    case 'uuid': return textCapacity(info, true) >= 36 ? undefined : refuse('values would be truncated or converted')
    case 'string': {
      if (type === 'char') return refuse('CHAR drops the trailing blanks of the values it stores')
      if (type === 'enum' || type === 'set') return refuse(`${type.toUpperCase()} holds only its listed values`)
      const capacity = textCapacity(info, false)
      if (capacity >= (c.length ?? (isKey ? UNBOUNDED_KEY_LENGTH : Infinity))) return undefined
      return refuse(capacity < 0 ? 'values would be converted' : `it holds ${capacity} characters at most. Declare \`length: ${capacity}\` if the source never has more (longer values are then refused), or widen the column`)
    }
    case 'binary': {
      if (type === 'binary') return refuse('BINARY pads the values it stores with zero bytes')
      const capacity = type === 'longblob' ? Infinity : type === 'varbinary' || BLOB_TYPES.has(type) ? num(info.CHARACTER_OCTET_LENGTH) : -1
      if (capacity >= (c.length ?? Infinity)) return undefined
      return refuse(capacity < 0 ? 'values would be converted' : `it holds ${capacity} bytes at most. Declare \`length: ${capacity}\` if the source never has more (longer values are then refused), or widen the column`)
    }
    case 'json': return type === 'json' || type === 'longtext' ? undefined : refuse('values would be truncated or converted')
  }
}

/** Whether a column holds every signed integer of `bits` bits (the wire's int: 32, bigint: 64). */
function holdsSigned (info: TargetColumn, bits: 32 | 64): boolean {
  const type = info.DATA_TYPE.toLowerCase()
  const own = INTEGER_BITS[type]
  // an unsigned type refuses the negative half
  if (own !== undefined) return own >= bits && !/unsigned/i.test(info.COLUMN_TYPE)
  // 2³¹ has 10 digits, 2⁶³ has 19
  return type === 'decimal' && num(info.NUMERIC_PRECISION) - num(info.NUMERIC_SCALE) >= (bits === 32 ? 10 : 19)
}

function holdsDatetime (info: TargetColumn, fraction: number): boolean {
  const type = info.DATA_TYPE.toLowerCase()
  return (type === 'datetime' || type === 'timestamp') && num(info.DATETIME_PRECISION) >= fraction
}

/**
 * Characters a text column holds for certain: its length for VARCHAR (and CHAR when `allowChar`),
 * its bytes divided by the character set's widest character for the TEXT types (a TEXT holds
 * 65,535 bytes: 16,383 utf8mb4 characters), LONGTEXT unbounded.
 */
function textCapacity (info: TargetColumn, allowChar: boolean): number {
  const type = info.DATA_TYPE.toLowerCase()
  if (type === 'varchar' || (allowChar && type === 'char')) return num(info.CHARACTER_MAXIMUM_LENGTH)
  // LONGTEXT holds 4 GB, more than any batch can carry
  if (type === 'longtext') return Infinity
  if (TEXT_TYPES.has(type)) return Math.floor(num(info.CHARACTER_OCTET_LENGTH) / Math.max(1, num(info.CHARSET_MAXLEN ?? 4)))
  return -1
}

function num (value: string | number | null): number {
  return value === null ? 0 : Number(value)
}
