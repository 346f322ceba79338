/**
 * What makes a SQL Server key safe to page on, beyond its type: a unique index whose columns
 * lead the key in their order (every page an index seek), and, for `varchar`/`char` keys, text
 * that survives the driver's code pages both ways.
 *
 * tedious decodes a varchar value with iconv-lite in its column collation's code page (bytes the
 * code page leaves undefined, such as CP1252's 0x81 and 0x8D, become U+FFFD) and encodes every
 * varchar parameter in the *database* collation's code page (a character it lacks becomes `?`).
 * A key that does not come back as it was stored would put the next page's start somewhere
 * else: rows skipped, then deleted from the target by reconciliation.
 */
import { createRequire } from 'node:module'
import type { StreamConfig, WireValue } from '@sisporta/contracts'
import { SourceError } from '../errors.js'
import type { MssqlIntrospection, MssqlRunner } from './mssql-introspector.js'
import { KEY_CODE_PAGE_SQL } from './mssql-sql.js'

interface Iconv {
  encode (text: string, encoding: string): Buffer
  decode (bytes: Buffer, encoding: string): string
  encodingExists (encoding: string): boolean
}

let iconv: Iconv | undefined

/** The iconv-lite tedious itself loads (a dependency of tedious, not of sisporta): the same tables. */
function tediousIconv (): Iconv {
  if (iconv === undefined) {
    const fromMssql = createRequire(createRequire(import.meta.url).resolve('mssql'))
    iconv = createRequire(fromMssql.resolve('tedious'))('iconv-lite') as Iconv
  }
  return iconv
}

/** iconv-lite's name of a Windows code page, as tedious spells it (`CP1252`; 65001: `utf-8`). */
export function codePageEncoding (codePage: number): string {
  return codePage === 65001 ? 'utf-8' : `CP${codePage}`
}

/**
 * Why a varchar key value read from the driver would not come back to the server as itself, or
 * undefined when it would: it holds U+FFFD (a byte the driver could not decode), or encoding it
 * in the database's code page (`encoding`) and decoding it again changes it.
 *
 * @example
 * varcharKeyProblem('A\uFFFD', 'CP1252') // 'holds U+FFFD …'
 * varcharKeyProblem('Ação', 'CP1252')    // undefined
 */
export function varcharKeyProblem (value: string, encoding: string): string | undefined {
  // ASCII is the same in every code page SQL Server offers for varchar
  if (!/[^\x00-\x7f]/.test(value)) return undefined
  if (value.includes('\uFFFD')) {
    return 'holds U+FFFD: the driver could not decode a byte of it in the column\'s code page (e.g. CP1252 0x81, 0x8D, 0x8F, 0x90, 0x9D), so it is not the stored key'
  }
  const codec = tediousIconv()
  if (codec.decode(codec.encode(value, encoding), encoding) !== value) {
    return `does not survive the database code page (${encoding}) that the driver encodes the next page's start with`
  }
  return undefined
}

/** The database's collation and code page, and the code page of one column's collation. */
interface CodePages { readonly database: string, readonly databaseCodePage: number, readonly column: number | null }

/**
 * For each key column (in `target.key` order) read as `varchar`/`char`: the iconv-lite encoding
 * of the database's code page, which every page's key values are checked against
 * (`varcharKeyProblem`); undefined for other keys. A varchar key whose collation has another
 * code page than the database's is refused with `SIS_SRC_KEY`: the driver would send the next
 * page's start in the wrong code page.
 */
export async function varcharKeyEncodings (run: MssqlRunner, stream: StreamConfig, introspection: MssqlIntrospection, keyIndexes: readonly number[]): Promise<(string | undefined)[]> {
  const encodings: (string | undefined)[] = []
  for (const i of keyIndexes) {
    const info = introspection.columns[i]!
    if (info.dataType !== 'varchar' && info.dataType !== 'char') {
      encodings.push(undefined)
      continue
    }
    const { rows } = await run(KEY_CODE_PAGE_SQL, [{ name: 'collation', type: { kind: 'nvarchar', length: 128 }, value: info.collation ?? null }])
    const [database, databaseCodePage, column] = rows[0] ?? []
    const pages: CodePages = { database: String(database), databaseCodePage: Number(databaseCodePage), column: column === null || column === undefined ? null : Number(column) }
    const described = introspection.description.columns[i]!
    const columnPage = pages.column ?? pages.databaseCodePage
    const encoding = codePageEncoding(pages.databaseCodePage)
    if (columnPage !== pages.databaseCodePage || !tediousIconv().encodingExists(encoding)) {
      const fix = 'query' in introspection.source
        ? `convert the key in the query (CONVERT(nvarchar(${info.length === -1 ? 'max' : info.length}), ${described.from}) AS ${described.from}) and map that`
        : `read it through a query: stream that converts the key (SELECT CONVERT(nvarchar(${info.length === -1 ? 'max' : info.length}), ${described.from}) AS ${described.from}, …), or use an nvarchar key column`
      throw new SourceError('SIS_SRC_KEY',
        `stream '${stream.name}': key column '${described.name}' (from ${described.from} ${info.columnType}) has collation ${info.collation ?? '(none reported)'} with code page ${columnPage}, ` +
        `but the database's collation ${pages.database} has code page ${pages.databaseCodePage}${columnPage === pages.databaseCodePage ? ', which the driver cannot encode' : ''}: ` +
        `the driver sends every varchar parameter in the database's code page, so the next page's start would not be the stored key and rows would be skipped. To page on it, ${fix}`,
        { stream: stream.name, column: described.name })
    }
    encodings.push(encoding)
  }
  return encodings
}

/**
 * Fails with `SIS_SRC_VALUE` when a varchar key value of a page would not come back to the server
 * as itself (see `varcharKeyProblem`). `encodings` as from `varcharKeyEncodings`.
 */
export function checkVarcharKeys (stream: StreamConfig, keyIndexes: readonly number[], encodings: readonly (string | undefined)[], rows: readonly (readonly WireValue[])[]): void {
  keyIndexes.forEach((i, k) => {
    const encoding = encodings[k]
    if (encoding === undefined) return
    for (const row of rows) {
      const value = row[i]
      if (typeof value !== 'string') continue
      const problem = varcharKeyProblem(value, encoding)
      if (problem !== undefined) {
        const column = stream.columns[i]!
        throw new SourceError('SIS_SRC_VALUE',
          `stream '${stream.name}', key column '${column.name}' (from ${column.from}): the key value ${JSON.stringify(value)} ${problem}; keyset pagination would continue from another key and skip rows. ` +
          `Read the key through a query: stream as CONVERT(nvarchar(n), ${column.from}), fix the stored value, or use an nvarchar key`,
          { stream: stream.name, column: column.name })
      }
    }
  })
}

/** A unique index: its name and key columns in index order. */
export interface MssqlUniqueIndex {
  readonly name: string
  readonly columns: readonly string[]
}

/**
 * The unique index that makes `key` (source columns, `target.key` order) safe and cheap to page
 * on: its columns are the key's first columns, in the index's order, so that `ORDER BY key` and
 * the keyset range are an index seek. A unique index that covers the key in another column order
 * would make every page a scan and a sort of the whole table: refused with `SIS_SRC_KEY`.
 * Undefined when no unique index covers the key.
 *
 * @example
 * keyIndex(stream, '[dbo].[T]', ['Doc', 'Line'], [{ name: 'PK_T', columns: ['Doc', 'Line'] }]) // PK_T
 * keyIndex(stream, '[dbo].[T]', ['Line', 'Doc'], [{ name: 'PK_T', columns: ['Doc', 'Line'] }]) // throws SIS_SRC_KEY
 */
export function keyIndex (stream: StreamConfig, object: string, key: readonly string[], indexes: readonly MssqlUniqueIndex[]): MssqlUniqueIndex | undefined {
  const leading = indexes.find((i) => i.columns.length <= key.length && i.columns.every((c, j) => key[j] === c))
  if (leading !== undefined) return leading
  const covering = indexes.find((i) => i.columns.every((c) => key.includes(c)))
  if (covering === undefined) return undefined
  const target = (column: string): string => stream.target.key[key.indexOf(column)]!
  const ordered = [...covering.columns.map(target), ...stream.target.key.filter((k) => !covering.columns.map(target).includes(k))]
  throw new SourceError('SIS_SRC_KEY',
    `stream '${stream.name}': target.key (${stream.target.key.join(', ')}) from ${object} (${key.join(', ')}) is unique by index ${covering.name}, but that index orders its columns as (${covering.columns.join(', ')}): ` +
    `paging in key order would scan and sort the whole ${object} for every page. List target.key in the index's order (${ordered.join(', ')}), or create a unique index on (${key.join(', ')})`,
    { stream: stream.name })
}
