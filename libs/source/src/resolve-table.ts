/**
 * Finding a stream's `table:` in an engine's catalogue where tables have two-part names
 * (`database.table` in MySQL, `schema.table` in PostgreSQL): the exact name first, else the one
 * name equal ignoring case, as the engines' own lookups of unquoted names do. Only the
 * catalogue's spelling of the name is used from then on.
 */
import type { StreamConfig } from '@sisporta/contracts'
import { SourceError } from './errors.js'

/** How one engine looks a table up, and how its messages name the parts. */
export interface TableLookup<Row> {
  /** Completes "has three parts, but …": `MySQL/MariaDB names a table as database.table`. */
  readonly naming: string
  /** Completes "names no …": `database and the source URL has none; write it as database.table`. */
  readonly noDefault: string
  /** The qualifier (database, schema) of a name without one; anything but a string when there is none. */
  defaultQualifier (): Promise<unknown>
  /** Catalogue rows of tables named `qualifier.name`, compared exactly or ignoring case. */
  find (qualifier: string, name: string, ignoringCase: boolean): Promise<Row[]>
  /** `[qualifier, name]` of a catalogue row, spelt as the catalogue spells them. */
  nameOf (row: Row): readonly [string, string]
}

/** The table as the catalogue has it: its row, and its name in the catalogue's spelling. */
export interface ResolvedTable<Row> {
  readonly row: Row
  readonly name: [string, string]
}

/**
 * Resolves `table` (`name` or `qualifier.name`) to one catalogue entry. A name with more parts,
 * none found, or several differing only in case (on a case-sensitive server `Produtos` and
 * `produtos` are two tables) is `SIS_SRC_TABLE_NOT_FOUND`.
 *
 * @example
 * const { row, name } = await resolveTable(stream, 'ERP.Produtos', lookup) // name: ['erp', 'produtos']
 */
export async function resolveTable<Row> (stream: StreamConfig, table: string, lookup: TableLookup<Row>): Promise<ResolvedTable<Row>> {
  const parts = table.split('.')
  if (parts.length > 2) {
    throw new SourceError('SIS_SRC_TABLE_NOT_FOUND', `stream '${stream.name}': source table '${table}' has three parts, but ${lookup.naming}`, { stream: stream.name })
  }
  let qualifier = parts.length === 2 ? parts[0]! : undefined
  const name = parts[parts.length - 1]!
  if (qualifier === undefined) {
    const current = await lookup.defaultQualifier()
    if (typeof current !== 'string') {
      throw new SourceError('SIS_SRC_TABLE_NOT_FOUND', `stream '${stream.name}': source table '${table}' names no ${lookup.noDefault}`, { stream: stream.name })
    }
    qualifier = current
  }
  let found = await lookup.find(qualifier, name, false)
  if (found.length === 0) found = await lookup.find(qualifier, name, true)
  if (found.length !== 1) {
    const also = found.length > 1 ? ` (names differing only in case: ${found.map((r) => lookup.nameOf(r).join('.')).join(', ')})` : ''
    throw new SourceError('SIS_SRC_TABLE_NOT_FOUND', `stream '${stream.name}': source table '${qualifier}.${name}' does not exist${also}`, { stream: stream.name })
  }
  const row = found[0]!
  const [resolvedQualifier, resolvedName] = lookup.nameOf(row)
  return { row, name: [resolvedQualifier, resolvedName] }
}

/**
 * Splits a dotted name into its parts, each possibly quoted by one of `quotes` (`[…]`, `"…"`),
 * where a doubled closing quote stands for itself (`[a]]b]` is `a]b`) and a dot inside quotes
 * belongs to the name. Unquoted parts are trimmed; an empty part (`ERP..Orders`) stays `''`.
 * Undefined when the text is not a well-formed name (an unclosed quote, text after a closing one).
 *
 * @example
 * splitQuotedName('[Sales].[Order Lines]', [['[', ']'], ['"', '"']]) // ['Sales', 'Order Lines']
 * splitQuotedName('"Sales.Orders"', [['[', ']'], ['"', '"']])        // ['Sales.Orders']
 * splitQuotedName('Sales.Orders', [['[', ']'], ['"', '"']])          // ['Sales', 'Orders']
 */
export function splitQuotedName (text: string, quotes: readonly (readonly [open: string, close: string])[]): string[] | undefined {
  const parts: string[] = []
  let i = 0
  for (;;) {
    while (text[i] === ' ') i++
    const quote = quotes.find(([open]) => text[i] === open)
    let part = ''
    if (quote !== undefined) {
      const close = quote[1]
      i++
      for (;;) {
        if (i >= text.length) return undefined
        if (text[i] === close) {
          if (text[i + 1] !== close) break
          i++
        }
        part += text[i]
        i++
      }
      i++
      while (text[i] === ' ') i++
    } else {
      const end = text.indexOf('.', i)
      part = text.slice(i, end === -1 ? text.length : end).trim()
      if (quotes.some(([open, close]) => part.includes(open) || part.includes(close))) return undefined
      i = end === -1 ? text.length : end
    }
    parts.push(part)
    if (i >= text.length) return parts
    if (text[i] !== '.') return undefined
    i++
  }
}
