/**
 * SQL text every engine writes the same way: `query:` streams wrapped as a derived table, and the
 * checks on an identifier before it is quoted. Each engine's `…-sql.ts` quotes with its own
 * characters (backticks, double quotes, brackets) through `quoteName`.
 */
import { SourceError } from './errors.js'

/** Alias of a wrapped `query:` stream. */
export const QUERY_ALIAS = 'q'

/** A `query:` stream's text without the trailing semicolons and blanks that would break wrapping. */
export function trimQuery (query: string): string {
  return query.trim().replace(/[\s;]+$/, '')
}

/**
 * A `query:` stream as a derived table. The newline before `)` keeps a trailing `-- comment`
 * of the query from swallowing the parenthesis.
 *
 * @example
 * wrapQuery('SELECT 1 AS a; ') // '(\nSELECT 1 AS a\n) AS q'
 */
export function wrapQuery (query: string): string {
  return `(\n${trimQuery(query)}\n) AS ${QUERY_ALIAS}`
}

export interface QuoteNameOptions {
  /** The engine's longest identifier (SQL Server: 128); unchecked when absent. */
  readonly maxLength?: number
  /** The engine's name in the error, when the rules are its own (`SQL Server`). */
  readonly engine?: string
}

/**
 * Quotes one identifier between `open` and `close`, doubling any `close` inside, so that no name
 * can end the quoting early. An empty name, a NUL, or a name longer than the engine allows is
 * `SIS_SRC_ARGUMENT`.
 *
 * @example
 * quoteName('a`b', '`', '`') // '`a``b`'
 * quoteName('Preço [unit]', '[', ']', { maxLength: 128, engine: 'SQL Server' }) // '[Preço [unit]]]'
 */
export function quoteName (name: string, open: string, close: string, options: QuoteNameOptions = {}): string {
  if (name.length === 0 || (options.maxLength !== undefined && name.length > options.maxLength) || name.includes('\u0000')) {
    throw new SourceError('SIS_SRC_ARGUMENT', `invalid ${options.engine === undefined ? '' : `${options.engine} `}identifier ${JSON.stringify(name)}`)
  }
  return `${open}${name.replaceAll(close, close + close)}${close}`
}
