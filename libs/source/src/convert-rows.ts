/**
 * The engine-independent half of reading a page: driver rows → wire rows with the lossless
 * checks every dialect applies the same way (NULL in keys and `nullable: false` columns, declared
 * precision / scale / length), the unique-key check of keyset pagination, and the shape of
 * `readPage`'s arguments (page size, `after`). Each dialect supplies its per-column converters
 * (its `…-values.ts`).
 */
import { DECIMAL_DEFAULTS, checkWireValue, type StreamConfig, type WireColumnSpec, type WireValue } from '@sisporta/contracts'
import { SourceError } from './errors.js'
import type { KeyValues, SourceDescription, WireRow } from './source-dialect.js'
import { keyColumnIndexes } from './stream-keys.js'
import { ConversionFailure, describeSourceValue } from './wire-convert.js'

/** Converts one non-NULL source value; throws `ConversionFailure` with the reason. */
export type ValueConverter = (value: unknown) => WireValue

/** What converting the rows of one described stream needs, worked out once. */
export interface RowConversion {
  /** The stream's description: names and types for error messages. */
  readonly description: SourceDescription
  /** Positions of the key columns in a row, in `target.key` order. */
  readonly keyIndexes: readonly number[]
  /** One per stream column, in `stream.columns` order. */
  readonly converters: readonly ValueConverter[]
  /** NULL is refused here: key columns and `nullable: false` columns. */
  readonly required: readonly boolean[]
  /** Declared limits to check after conversion (precision, scale, length), where there are any. */
  readonly limits: readonly (WireColumnSpec | undefined)[]
}

/**
 * The row conversion of a stream from its description and per-column converters.
 *
 * @example
 * const conversion = createRowConversion(stream, description, stream.columns.map((c, i) => createMysqlValueConverter(c.type, infos[i])))
 */
export function createRowConversion (stream: StreamConfig, description: SourceDescription, converters: readonly ValueConverter[]): RowConversion {
  const keyIndexes = keyColumnIndexes(stream)
  const keys = new Set(keyIndexes)
  return {
    description,
    keyIndexes,
    converters,
    required: stream.columns.map((c, i) => keys.has(i) || c.nullable === false),
    // a decimal always has limits (the defaults when none are declared), as the gateway checks it:
    // a source type that states no digits (PostgreSQL's bare numeric) is checked here, value by value
    limits: stream.columns.map((c) => c.type === 'decimal'
      ? { ...c, precision: c.precision ?? DECIMAL_DEFAULTS.precision, scale: c.scale ?? DECIMAL_DEFAULTS.scale }
      : c.precision !== undefined || c.scale !== undefined || c.length !== undefined ? c : undefined)
  }
}

/**
 * Checks the page size of `readPage` (and `streamPages`): a positive integer, at most `max` where
 * the engine caps a page. Fails with `SIS_SRC_ARGUMENT`.
 */
export function checkPageSize (stream: StreamConfig, limit: number, max?: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > (max ?? Infinity)) {
    const range = max === undefined ? 'a positive integer' : `an integer from 1 to ${max}`
    throw new SourceError('SIS_SRC_ARGUMENT', `stream '${stream.name}': page size must be ${range}, got ${limit}`, { stream: stream.name })
  }
}

/**
 * Checks the `after` argument of `readPage` against the key: as many values as key columns, none
 * of them NULL. Fails with `SIS_SRC_ARGUMENT`.
 */
export function checkAfter (stream: StreamConfig, keyCount: number, after: KeyValues): readonly Exclude<WireValue, null>[] {
  if (after.length !== keyCount) {
    throw new SourceError('SIS_SRC_ARGUMENT', `stream '${stream.name}': 'after' has ${after.length} values, the key (${stream.target.key.join(', ')}) has ${keyCount}`, { stream: stream.name })
  }
  after.forEach((value, k) => {
    if (value === null || value === undefined) {
      throw new SourceError('SIS_SRC_ARGUMENT', `stream '${stream.name}': 'after' has NULL for key column '${stream.target.key[k]!}'`, { stream: stream.name })
    }
  })
  return after as readonly Exclude<WireValue, null>[]
}

/**
 * Converts the driver's rows to wire rows in place (the arrays are ours, fresh from the driver;
 * reusing them spares the garbage collector one array per row on million-row loads). Fails with
 * `SIS_SRC_VALUE` naming stream, column, row key and value.
 */
export function convertRows (stream: StreamConfig, conversion: RowConversion, raw: unknown[][]): WireRow[] {
  const { converters, required, limits } = conversion
  const width = converters.length
  for (let r = 0; r < raw.length; r++) {
    const row = raw[r]!
    for (let c = 0; c < width; c++) {
      const value = row[c]
      if (value === null || value === undefined) {
        if (required[c]!) throw valueError(stream, conversion, row, c, conversion.keyIndexes.includes(c) ? 'is NULL in a key column' : 'is NULL but the column is declared nullable: false')
        row[c] = null
        continue
      }
      let wire: WireValue
      try {
        wire = converters[c]!(value)
      } catch (err) {
        if (err instanceof ConversionFailure) throw valueError(stream, conversion, row, c, err.message)
        throw err
      }
      const limit = limits[c]
      if (limit !== undefined && wire !== null) {
        const reason = checkWireValue(limit, wire)
        if (reason !== undefined) throw valueError(stream, conversion, row, c, `does not fit the declared column: ${reason}`)
      }
      row[c] = wire
    }
  }
  return raw as WireRow[]
}

/**
 * One page as the dialect hands it out: the driver's rows converted (`convertRows`), their keys
 * strictly increasing (`checkKeysIncrease`).
 */
export function convertPage (stream: StreamConfig, conversion: RowConversion, raw: unknown[][]): WireRow[] {
  const rows = convertRows(stream, conversion, raw)
  checkKeysIncrease(stream, conversion.keyIndexes, rows)
  return rows
}

/**
 * Keyset pagination needs a unique key: with two rows sharing one, a page that ends between them
 * would skip the second for good. Equal neighbours in key order are how that shows within a page.
 */
export function checkKeysIncrease (stream: StreamConfig, keyIndexes: readonly number[], rows: readonly WireRow[]): void {
  for (let r = 1; r < rows.length; r++) {
    const a = rows[r - 1]!
    const b = rows[r]!
    if (keyIndexes.every((i) => a[i] === b[i])) {
      const key = keyIndexes.map((i) => `${stream.columns[i]!.name}: ${describeSourceValue(b[i])}`).join(', ')
      throw new SourceError('SIS_SRC_KEY', `stream '${stream.name}': two source rows have the key {${key}}; target.key (${stream.target.key.join(', ')}) must identify one row, or pages would skip rows`, { stream: stream.name, exitCode: 1 })
    }
  }
}

/** `row` is partly converted: columns before `c` hold wire values, `c` and after the source's. */
function valueError (stream: StreamConfig, conversion: RowConversion, source: unknown[], c: number, reason: string): SourceError {
  const column = conversion.description.columns[c]!
  const key = conversion.keyIndexes.map((i) => `${stream.columns[i]!.name}: ${describeSourceValue(source[i])}`).join(', ')
  return new SourceError('SIS_SRC_VALUE',
    `stream '${stream.name}', column '${column.name}' (from ${column.from} ${column.sourceType} to ${column.type}), row {${key}}: value ${describeSourceValue(source[c])} ${reason}`,
    { stream: stream.name, column: column.name })
}
