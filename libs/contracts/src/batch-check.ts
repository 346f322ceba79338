import type { StreamConfig } from './config-schema.js'
import { DATETIME_DEFAULTS, DECIMAL_DEFAULTS, checkWireValue, type WireColumnSpec, type WireStringForm } from './wire-types.js'

/** Where and why a batch body does not fit its stream. */
export interface BatchProblem {
  /** 0-based row index in `rows`, absent for problems with the column list itself. */
  readonly row?: number
  readonly column?: string
  readonly message: string
}

export type BatchChecker = (body: { columns: readonly string[], rows: readonly unknown[][] }) => BatchProblem | undefined

/**
 * Builds the check of a batch body against one stream's declared columns: every column known,
 * none twice, every key column present; every row as long as the column list; every value of
 * its column's wire type (decimals within their precision and scale, datetimes within their
 * fractional digits); no NULL in a key column or a `nullable: false` column. Returns the first
 * problem found, so the error names the row and the column.
 *
 * `form` says how the body's strings hold their text (see {@link WireStringForm}): the verdict
 * is the same for a body parsed either way; messages quote names and values as they are. A
 * configured column name that is not ASCII (`Preço`) matches only a body in the `'text'` form:
 * the gateway parses a body whose names are not all ASCII that way (its latin1 fast path
 * declines them), and answers only with that parse's verdict.
 *
 * @example
 * const check = createBatchChecker(stream)
 * check({ columns: ['sku', 'price'], rows: [['A1', 12]] })
 * // { row: 0, column: 'price', message: 'expected a decimal as a string of digits, got number 12' }
 */
export function createBatchChecker (stream: StreamConfig, form: WireStringForm = 'text'): BatchChecker {
  const specs = new Map<string, WireColumnSpec & { nullable: boolean }>()
  const keys = new Set(stream.target.key)
  for (const c of stream.columns) {
    const decimal = c.type === 'decimal' ? { precision: c.precision ?? DECIMAL_DEFAULTS.precision, scale: c.scale ?? DECIMAL_DEFAULTS.scale } : {}
    const datetime = c.type === 'datetime' ? { precision: c.precision ?? DATETIME_DEFAULTS.precision } : {}
    specs.set(c.name, { ...c, ...decimal, ...datetime, nullable: !keys.has(c.name) && c.nullable !== false })
  }
  return (body) => {
    const seen = new Set<string>()
    const columnSpecs: (WireColumnSpec & { nullable: boolean })[] = []
    for (const name of body.columns) {
      const spec = specs.get(name)
      if (spec === undefined) return { column: name, message: `unknown column '${name}' for stream '${stream.name}'` }
      if (seen.has(name)) return { column: name, message: `column '${name}' appears twice` }
      seen.add(name)
      columnSpecs.push(spec)
    }
    for (const key of stream.target.key) {
      if (!seen.has(key)) return { column: key, message: `key column '${key}' is missing` }
    }
    const width = columnSpecs.length
    for (let r = 0; r < body.rows.length; r++) {
      const row = body.rows[r]!
      if (row.length !== width) return { row: r, message: `row ${r} has ${row.length} values, expected ${width} (one per column)` }
      for (let c = 0; c < width; c++) {
        const value = row[c]
        const spec = columnSpecs[c]!
        if (value === null) {
          if (!spec.nullable) {
            const name = body.columns[c]!
            return { row: r, column: name, message: `row ${r}, column '${name}': null is not allowed${keys.has(name) ? ' in a key column' : ''}` }
          }
          continue
        }
        const problem = checkWireValue(spec, value, form)
        if (problem !== undefined) {
          const name = body.columns[c]!
          return { row: r, column: name, message: `row ${r}, column '${name}' (${spec.type}): ${problem}` }
        }
      }
    }
    return undefined
  }
}
