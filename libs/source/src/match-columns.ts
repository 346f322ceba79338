/**
 * Matching a stream's mapped columns against the columns a source reports (a table's catalogue
 * entry or a query's result metadata), the same way for every engine, with errors that name the
 * stream, the column and what the source has instead.
 */
import type { StreamConfig } from '@sisporta/contracts'
import { SourceError } from './errors.js'
import type { SourceColumnDescription, SourceDescription } from './source-dialect.js'
import { keyColumnIndexes } from './stream-keys.js'

/** The least a dialect's column facts carry. */
export interface SourceColumnFacts {
  /** The full type as the engine spells it: `decimal(19,4)`, `character varying(40)`. */
  readonly columnType: string
  readonly nullable: boolean
}

/** One column the source has, under the name the source spells. */
export interface AvailableColumn<Info extends SourceColumnFacts> {
  readonly name: string
  readonly info: Info
}

/** The stream's description and, per stream column in `stream.columns` order, the source's facts. */
export interface MatchedColumns<Info extends SourceColumnFacts> {
  readonly description: SourceDescription
  readonly columns: readonly Info[]
}

/**
 * Finds every mapped column (and the version column) among `available`: the exact name first,
 * else the one name equal ignoring case (a single match is the same column; two are ambiguous).
 * `object` is the quoted source for the description; `where` says where the columns were looked
 * for, in messages (`table "erp"."products"`, `the query's result`).
 *
 * @example
 * matchColumns(stream, '`erp`.`products`', catalogue, 'table `erp`.`products`').description.columns[0].from // 'ProdCode'
 */
export function matchColumns<Info extends SourceColumnFacts> (
  stream: StreamConfig,
  object: string,
  available: readonly AvailableColumn<Info>[],
  where: string
): MatchedColumns<Info> {
  const find = (from: string): AvailableColumn<Info> | undefined => {
    const exact = available.find((c) => c.name === from)
    if (exact !== undefined) return exact
    const folded = available.filter((c) => c.name.toLowerCase() === from.toLowerCase())
    return folded.length === 1 ? folded[0] : undefined
  }
  const missing: string[] = []
  const described: SourceColumnDescription[] = []
  const infos: Info[] = []
  for (const column of stream.columns) {
    const hit = find(column.from)
    if (hit === undefined) {
      missing.push(`'${column.from}' (mapped to column '${column.name}', type ${column.type})`)
      continue
    }
    described.push({ name: column.name, from: hit.name, type: column.type, sourceType: hit.info.columnType, sourceNullable: hit.info.nullable })
    infos.push(hit.info)
  }
  if (missing.length > 0) {
    const first = stream.columns.find((c) => find(c.from) === undefined)!
    const has = available.slice(0, 40).map((c) => `${c.name} ${c.info.columnType}`).join(', ') + (available.length > 40 ? `, … (${available.length} columns)` : '')
    throw new SourceError('SIS_SRC_COLUMN_NOT_FOUND',
      `stream '${stream.name}': source column ${missing.join(', source column ')} ${missing.length > 1 ? 'are' : 'is'} not in ${where}, which has: ${has}`,
      { stream: stream.name, column: first.name })
  }
  let version: SourceDescription['version']
  if (stream.source.version !== undefined) {
    const hit = find(stream.source.version)
    if (hit === undefined) {
      throw new SourceError('SIS_SRC_COLUMN_NOT_FOUND', `stream '${stream.name}': version column '${stream.source.version}' is not in ${where}`, { stream: stream.name })
    }
    version = { from: hit.name, sourceType: hit.info.columnType }
  }
  const description: SourceDescription = {
    stream: stream.name,
    object,
    columns: described,
    key: keyColumnIndexes(stream).map((i) => described[i]!.from),
    ...(version === undefined ? {} : { version })
  }
  return { description, columns: infos }
}
