/**
 * Whether a source column's type fits its declared wire type, judged the same way for every
 * engine before a load (`SIS_SRC_TYPE`). Each engine lists which wire types each of its source
 * types may be read as (its `…-types.ts`, in the shape of SQL Server's table); the digits, ranges
 * and lengths are compared here, with the same messages everywhere.
 *
 * A source type that states a maximum (`varchar(40)`, `decimal(19,4)`, `int unsigned`) must fit
 * within the declared one. A source type that states none (PostgreSQL's `text`, `bytea`, `numeric`
 * without precision) cannot be compared: its values are checked one by one as they are read
 * (`SIS_SRC_VALUE`, before they are sent), never rounded or cut.
 */
import { DECIMAL_DEFAULTS, type ColumnMapping, type StreamConfig, type WireType } from '@sisporta/contracts'
import { SourceError } from './errors.js'
import type { MatchedColumns, SourceColumnFacts } from './match-columns.js'

/** Integer range of a source type, `[min, max]`. */
export type IntegerRange = readonly [min: bigint, max: bigint]

const WIRE_RANGES: Readonly<Record<'int' | 'bigint', IntegerRange>> = {
  int: [-(2n ** 31n), 2n ** 31n - 1n],
  bigint: [-(2n ** 63n), 2n ** 63n - 1n]
}

/**
 * The range of a two's-complement integer of `bits` bits, or of an unsigned one.
 *
 * @example
 * integerRange(32, true) // [0n, 4294967295n]
 */
export function integerRange (bits: number, unsigned: boolean): IntegerRange {
  const size = BigInt(bits)
  return unsigned ? [0n, 2n ** size - 1n] : [-(2n ** (size - 1n)), 2n ** (size - 1n) - 1n]
}

/** Digits before the point a range needs as a decimal: `[-128, 127]` → 3. */
export function rangeDigits ([min, max]: IntegerRange): number {
  return (max > -min ? max : -min).toString().length
}

/** `source type x cannot be read as y without loss; it maps to …`. */
export function notAllowed (sourceType: string, type: WireType, allowed: readonly WireType[]): string {
  return `source type ${sourceType} cannot be read as ${type} without loss; it maps to ${allowed.join(', ')}`
}

/**
 * Why a declared decimal cannot hold a source type with `before` digits before the point and
 * `after` after it (the declared precision and scale, or the defaults 38,10), or undefined.
 *
 * @example
 * decimalProblem({ name: 'price', from: 'Preco', type: 'decimal', precision: 10, scale: 2 }, 'decimal(19,4)', 15, 4)
 * // 'decimal(19,4) needs the declared decimal to hold 15 digits before the point and 4 after; declared precision 10, scale 2 does not (…)'
 */
export function decimalProblem (column: ColumnMapping, sourceType: string, before: number, after: number): string | undefined {
  const precision = column.precision ?? DECIMAL_DEFAULTS.precision
  const scale = column.scale ?? DECIMAL_DEFAULTS.scale
  if (scale >= after && precision - scale >= before) return undefined
  const declared = column.precision === undefined && column.scale === undefined ? `the default decimal(${precision},${scale})` : `declared precision ${precision}, scale ${scale}`
  return `${sourceType} needs the declared decimal to hold ${before} digits before the point and ${after} after; ${declared} does not (declare precision ≥ ${before + Math.max(after, scale)} and scale ≥ ${after})`
}

/**
 * Why an exact numeric source type `decimal(precision, scale)` cannot be read as an `int` (p ≤ 9)
 * or a `bigint` (p ≤ 18), or undefined. Without a precision (PostgreSQL's bare `numeric`) it never can.
 */
export function wholeNumberProblem (type: 'int' | 'bigint', sourceType: string, precision: number | undefined, scale: number | undefined): string | undefined {
  const limit = type === 'int' ? 9 : 18
  if (precision !== undefined && scale === 0 && precision <= limit) return undefined
  return `${sourceType} holds values a ${type} cannot (${type} takes decimal(p,0) with p ≤ ${limit}); declare it as decimal`
}

/**
 * Why an integer source type with this range (undefined: no limit, a bit string of any length)
 * cannot be read as `int` or `bigint`, or undefined.
 *
 * @example
 * integerRangeProblem('int', 'int(10) unsigned', [0n, 4294967295n])
 * // 'int(10) unsigned holds values up to 4294967295, beyond an int (-2147483648 to 2147483647); declare it as bigint, decimal or string'
 */
export function integerRangeProblem (type: 'int' | 'bigint', sourceType: string, range: IntegerRange | undefined): string | undefined {
  const [lo, hi] = WIRE_RANGES[type]
  const instead = type === 'int' ? 'bigint, decimal or string' : 'decimal or string'
  if (range === undefined) return `${sourceType} holds values of any size, beyond a${type === 'int' ? 'n' : ''} ${type} (${lo} to ${hi}); declare it as ${instead}`
  const [min, max] = range
  if (min >= lo && max <= hi) return undefined
  const beyond = max > hi ? `up to ${max}` : `down to ${min}`
  return `${sourceType} holds values ${beyond}, beyond a${type === 'int' ? 'n' : ''} ${type} (${lo} to ${hi}); declare it as ${instead}`
}

/**
 * Why a declared `length` (characters of a string, bytes of a binary) is shorter than what the
 * source type holds, or undefined. `holds`: the source type's maximum (a number, or words such as
 * `about 2^30`); undefined when it states none, so that values are checked one by one instead.
 */
export function lengthProblem (column: ColumnMapping, sourceType: string, holds: number | string | undefined, unit: 'characters' | 'bytes'): string | undefined {
  if (column.length === undefined || holds === undefined || (typeof holds === 'number' && holds <= column.length)) return undefined
  return `${sourceType} holds up to ${holds} ${unit}; the declared length ${column.length} is shorter`
}

/**
 * Checks every mapped column's source type against its declared wire type with an engine's
 * rules (`typeProblem`), before a load: fails with `SIS_SRC_TYPE` naming the stream and, for each
 * column that does not fit, the column, its source column and type, the declared type and why
 * (`stream 's', column 'qty' (from Qtd varchar(20) to int): …; column 'b' (…): …`).
 *
 * @example
 * checkColumnTypes(stream, introspection, mysqlTypeProblem)
 */
export function checkColumnTypes<Info extends SourceColumnFacts> (
  stream: StreamConfig,
  matched: MatchedColumns<Info>,
  typeProblem: (column: ColumnMapping, info: Info) => string | undefined
): void {
  const problems: Array<{ column: string, text: string }> = []
  stream.columns.forEach((column, i) => {
    const info = matched.columns[i]!
    const problem = typeProblem(column, info)
    if (problem !== undefined) {
      problems.push({ column: column.name, text: `column '${column.name}' (from ${matched.description.columns[i]!.from} ${info.columnType} to ${column.type}): ${problem}` })
    }
  })
  if (problems.length === 0) return
  throw new SourceError('SIS_SRC_TYPE', `stream '${stream.name}', ${problems.map((p) => p.text).join('; ')}`, { stream: stream.name, column: problems[0]!.column })
}
