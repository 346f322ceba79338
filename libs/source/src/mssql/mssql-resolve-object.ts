/**
 * A stream's `table:` as SQL Server itself would resolve it: `[database.]schema.table` with
 * bracketed or double-quoted parts (`[Sales].[Order Lines]`, `"Sales"."Orders"`); an unqualified
 * name in the user's default schema, then in `dbo`; a synonym followed to the table or view it
 * stands for. Only the catalogue's spelling of the name is used from then on.
 */
import type { StreamConfig } from '@sisporta/contracts'
import { SourceError } from '../errors.js'
import { splitQuotedName } from '../resolve-table.js'
import type { MssqlDatabaseFacts, MssqlRunner } from './mssql-introspector.js'
import { FIND_OBJECT_SQL, SYNONYM_SQL, type MssqlParameter } from './mssql-sql.js'

/** T-SQL's quoting of identifiers: brackets, and double quotes (QUOTED_IDENTIFIER ON, the default). */
const MSSQL_QUOTES = [['[', ']'], ['"', '"']] as const

/** A table or view, as the catalogue spells it. */
export interface MssqlObject {
  readonly table: [schema: string, name: string]
  readonly objectId: number
  readonly kind: 'table' | 'view'
  /** The synonym the stream named, when it named one (`[dbo].[Pedidos]`). */
  readonly synonym?: string
}

const nvarchar = (name: string, value: string | null): MssqlParameter => ({ name, type: { kind: 'nvarchar', length: 128 }, value })

/**
 * `[database, schema, name]` of a name of one to three parts (`database` and `schema` null when
 * absent or empty, as in `ERP..Orders`); `SIS_SRC_TABLE_NOT_FOUND` for anything else.
 *
 * @example
 * parseMssqlTableName(stream, '[Sales].[Order Lines]') // [null, 'Sales', 'Order Lines']
 */
export function parseMssqlTableName (stream: StreamConfig, table: string, parts = 3): [string | null, string | null, string] {
  const split = splitQuotedName(table, MSSQL_QUOTES)
  if (split === undefined || split.length > parts || split[split.length - 1] === '') {
    throw new SourceError('SIS_SRC_TABLE_NOT_FOUND',
      `stream '${stream.name}': source table '${table}' is not a table name SQL Server reads: write it as [database.]schema.table, quoting a part that holds dots or spaces with [brackets] or "double quotes"`,
      { stream: stream.name })
  }
  const [name, schema, database] = [...split].reverse()
  const orNull = (s: string | undefined): string | null => s === undefined || s === '' ? null : s
  return [orNull(database), orNull(schema), name!]
}

/**
 * Resolves `table` to one table or view of the connected database, following a synonym once.
 * Fails with `SIS_SRC_TABLE_NOT_FOUND` naming the stream, the name and what to check.
 */
export async function resolveMssqlObject (run: MssqlRunner, stream: StreamConfig, table: string, database: MssqlDatabaseFacts): Promise<MssqlObject> {
  const [db, schema, name] = parseMssqlTableName(stream, table)
  checkDatabase(stream, table, db, database)
  const found = await findObject(run, stream, table, schema, name, database)
  if (found.type !== 'SN') return { table: found.name, objectId: found.objectId, kind: found.type === 'V' ? 'view' : 'table' }
  const synonym = `[${found.name[0]}].[${found.name[1]}]`
  const { rows } = await run(SYNONYM_SQL, [{ name: 'object_id', type: { kind: 'int' }, value: found.objectId }])
  const base = String(rows[0]?.[0] ?? '')
  const parts = splitQuotedName(base, MSSQL_QUOTES)
  if (parts === undefined || parts.length > 3 || parts.length === 0) {
    throw new SourceError('SIS_SRC_TABLE_NOT_FOUND',
      `stream '${stream.name}': source table '${table}' is the synonym ${synonym} for '${base}', which is not a table of this server's database '${database.name}' (a linked server or an unreadable name); name the table itself, or read it through a query: stream`,
      { stream: stream.name })
  }
  const [baseDb, baseSchema, baseName] = parseMssqlTableName(stream, base)
  checkDatabase(stream, `${table}' (synonym ${synonym} for '${base})`, baseDb, database)
  const target = await findObject(run, stream, `${table}' (synonym ${synonym} for '${base})`, baseSchema, baseName, database)
  if (target.type === 'SN') {
    throw new SourceError('SIS_SRC_TABLE_NOT_FOUND', `stream '${stream.name}': source table '${table}' is the synonym ${synonym} for another synonym '${base}'; name the table itself`, { stream: stream.name })
  }
  return { table: target.name, objectId: target.objectId, kind: target.type === 'V' ? 'view' : 'table', synonym }
}

function checkDatabase (stream: StreamConfig, table: string, db: string | null, database: MssqlDatabaseFacts): void {
  if (db !== null && db.toLowerCase() !== database.name.toLowerCase()) {
    throw new SourceError('SIS_SRC_TABLE_NOT_FOUND',
      `stream '${stream.name}': source table '${table}' is in database '${db}', but the source connects to '${database.name}'; point the source URL at '${db}' or name the table as schema.table`,
      { stream: stream.name })
  }
}

interface FoundObject {
  readonly name: [string, string]
  readonly type: 'U' | 'V' | 'SN'
  readonly objectId: number
}

/** The object `schema.name` (or `name` in the default schema, else `dbo`): the first row FIND_OBJECT_SQL returns. */
async function findObject (run: MssqlRunner, stream: StreamConfig, table: string, schema: string | null, name: string, database: MssqlDatabaseFacts): Promise<FoundObject> {
  const { rows } = await run(FIND_OBJECT_SQL, [nvarchar('schema', schema), nvarchar('name', name)])
  const row = rows[0]
  if (row === undefined) {
    const where = schema === null ? `'${name}' (in the default schema of user '${database.user}', nor in dbo)` : `'${schema}.${name}'`
    throw new SourceError('SIS_SRC_TABLE_NOT_FOUND',
      `stream '${stream.name}': source table '${table}', looked up as ${where}, is not a table, view or synonym in database '${database.name}' that login '${database.login}' can see; check the name, and that the login has SELECT on it`,
      { stream: stream.name })
  }
  const [foundSchema, foundName, type, objectId] = row
  const kind = String(type).trim()
  return { name: [String(foundSchema), String(foundName)], type: kind === 'V' ? 'V' : kind === 'SN' ? 'SN' : 'U', objectId: Number(objectId) }
}
