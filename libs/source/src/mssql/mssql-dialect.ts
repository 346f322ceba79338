import type { StreamConfig } from '@sisporta/contracts'
import { checkPageSize, convertPage, createRowConversion, type RowConversion } from '../convert-rows.js'
import { SourceError } from '../errors.js'
import { afterParameters, prepareKeyParameters } from '../key-parameters.js'
import { PreparedStreams } from '../prepared-streams.js'
import { ReadGuard } from '../read-errors.js'
import { checkColumnTypes } from '../type-fit.js'
import type {
  KeyValues, SourceDescription, SourceDialect, SourceDialectOptions, SourceLogger, WireRow
} from '../source-dialect.js'
import { describeSourceValue } from '../wire-convert.js'
import {
  MSSQL_ERRORS, createMssqlPool, driverTypeName, runMssql,
  type MssqlColumnMetadataLike, type MssqlPoolLike, type MssqlRows
} from './mssql-driver.js'
import {
  findLoginWriteAccess, findObjectWriteAccess, introspectMssqlStream, readMssqlDatabase,
  type MssqlDatabaseFacts, type MssqlIntrospection, type MssqlRunner
} from './mssql-introspector.js'
import {
  ESTIMATE_ROWS_SQL, PAGE_SIZE_PARAMETER, buildPageSql, keyParameterName,
  type MssqlIsolation, type MssqlParameter, type MssqlReadForm
} from './mssql-sql.js'
import { expectedDriverTypes, mssqlKeyProblem, mssqlReadForm, mssqlTypeProblem } from './mssql-types.js'
import { createMssqlKeyParameter, createMssqlValueConverter, mssqlKeyNormaliser, type MssqlKeyParameter } from './mssql-values.js'

/** The most rows one page may ask for: a page is one short statement, never a long read. */
export const MSSQL_MAX_PAGE_ROWS = 50_000

/** Everything reading a stream needs, worked out once from its introspection. */
interface PreparedStream extends RowConversion {
  readonly introspection: MssqlIntrospection
  readonly isolation: MssqlIsolation
  readonly firstPageSql: string
  readonly nextPageSql: string
  readonly readForms: readonly MssqlReadForm[]
  readonly keyParameters: readonly MssqlKeyParameter[]
  /** Character keys whose uniqueness no index vouches for: compared as their collation does. */
  readonly keyNormalisers?: readonly (((value: string) => string) | undefined)[]
  /** Whether a page's result metadata has been checked against the plan (the first page's). */
  checked: boolean
}

export interface MssqlDialectOptions {
  readonly log?: SourceLogger
  /** Read even when the login could write (warns instead of failing with `SIS_SRC_WRITABLE_LOGIN`). */
  readonly allowWritableLogin?: boolean
}

/**
 * The SQL Server source dialect over an mssql connection pool (or anything shaped like it: see
 * `MssqlPoolLike`). Reads are read-only by construction — the connection asks for
 * `ApplicationIntent=ReadOnly`, the login is checked for write permissions before the first read,
 * and the dialect only ever sends SELECTs, each page its own short statement.
 *
 * @example
 * const dialect = createMssqlDialect('Server=erp-db,1433;Database=ERP;User Id=sisporta_reader;Password=…')
 * const rows = await dialect.readPage(stream, undefined, 1000)
 */
export class MssqlDialect implements SourceDialect {
  readonly engine = 'mssql'
  readonly #pool: MssqlPoolLike
  readonly #log: SourceLogger | undefined
  readonly #allowWritableLogin: boolean
  readonly #prepared = new PreparedStreams<PreparedStream>()
  #database: Promise<MssqlDatabaseFacts> | undefined
  // the schema (or snapshot isolation) may have changed under a prepared stream: ask again next time
  readonly #reads = new ReadGuard(MSSQL_ERRORS, (stream) => {
    this.#prepared.forget(stream)
    this.#database = undefined
  })

  constructor (pool: MssqlPoolLike, options: MssqlDialectOptions = {}) {
    this.#pool = pool
    this.#log = options.log
    this.#allowWritableLogin = options.allowWritableLogin === true
  }

  async describe (stream: StreamConfig): Promise<SourceDescription> {
    // always asks the server again: the source schema, its settings or the login's permissions
    // may have changed since the last load
    this.#prepared.forget(stream)
    this.#database = undefined
    const prepared = await this.#prepare(stream)
    const { description, uniqueIndex } = prepared.introspection
    this.#log?.debug({
      stream: stream.name,
      object: description.object,
      columns: description.columns.map((c) => `${c.from} ${c.sourceType}`),
      isolation: prepared.isolation,
      uniqueKey: uniqueIndex ?? 'checked while reading'
    }, 'source described')
    return description
  }

  async readPage (stream: StreamConfig, after: KeyValues | undefined, limit: number): Promise<WireRow[]> {
    checkPageSize(stream, limit, MSSQL_MAX_PAGE_ROWS)
    const prepared = await this.#prepare(stream)
    const params: MssqlParameter[] = [{ name: PAGE_SIZE_PARAMETER, type: { kind: 'int' }, value: limit }]
    if (after !== undefined) {
      afterParameters(stream, prepared.keyParameters, after).forEach((value, k) => {
        params.push({ name: keyParameterName(k), type: prepared.keyParameters[k]!.type, value })
      })
    }
    const sql = after === undefined ? prepared.firstPageSql : prepared.nextPageSql
    const started = performance.now()
    const result = await this.#run(stream, 'read a page', sql, params)
    if (!prepared.checked) {
      checkResultColumns(stream, prepared, result.columns)
      prepared.checked = true
    }
    const rows = convertPage(stream, prepared, result.rows)
    if (prepared.keyNormalisers !== undefined) checkCollatedKeysIncrease(stream, prepared, rows)
    this.#log?.debug({ stream: stream.name, rows: rows.length, ms: Math.round(performance.now() - started) }, 'source page read')
    return rows
  }

  async estimateRows (stream: StreamConfig): Promise<number | undefined> {
    const { source } = (await this.#prepare(stream)).introspection
    if (!('table' in source) || source.kind !== 'table') return undefined
    const { rows } = await this.#run(stream, 'estimate rows', ESTIMATE_ROWS_SQL, [{ name: 'object_id', type: { kind: 'int' }, value: source.objectId }])
    const estimate = rows[0]?.[0]
    return estimate === null || estimate === undefined ? undefined : Number(estimate)
  }

  close (): Promise<void> {
    return this.#reads.close(() => this.#pool.close())
  }

  #prepare (stream: StreamConfig): Promise<PreparedStream> {
    return this.#prepared.get(stream, async () => {
      const run: MssqlRunner = (sql, params) => this.#run(stream, 'describe the source', sql, params)
      const database = await this.#databaseFacts(stream)
      const introspection = await introspectMssqlStream(run, stream, database)
      if ('table' in introspection.source) {
        this.#checkWriteAccess(stream, await findObjectWriteAccess(run, introspection.source.table), database)
      }
      return prepare(stream, introspection, database)
    })
  }

  /** The database's facts, and the login's database-wide write check, once per dialect. */
  #databaseFacts (stream: StreamConfig): Promise<MssqlDatabaseFacts> {
    if (this.#database === undefined) {
      const run: MssqlRunner = (sql, params) => this.#run(stream, 'check the source login', sql, params)
      const database = readMssqlDatabase(run).then(async (facts) => {
        this.#checkWriteAccess(stream, await findLoginWriteAccess(run), facts)
        this.#log?.debug({ database: facts.name, version: facts.version, login: facts.login, snapshot: facts.snapshotIsolation, readCommittedSnapshot: facts.readCommittedSnapshot, updateability: facts.updateability }, 'source database')
        return facts
      })
      database.catch(() => { if (this.#database === database) this.#database = undefined })
      this.#database = database
    }
    return this.#database
  }

  /** sisporta reads only: a login that could write is refused unless the operator said otherwise. */
  #checkWriteAccess (stream: StreamConfig, can: readonly string[], database: MssqlDatabaseFacts): void {
    if (can.length === 0) return
    const what = `the source login '${database.login}' (user '${database.user}' in database '${database.name}') can ${can.join(', ')}`
    if (this.#allowWritableLogin) {
      this.#log?.warn({ stream: stream.name, login: database.login, can }, `${what}; reading anyway because writable logins are allowed`)
      return
    }
    throw new SourceError('SIS_SRC_WRITABLE_LOGIN',
      `stream '${stream.name}': ${what}. sisporta only reads and needs a read-only login: create one with SELECT on the mapped tables only (docs/sql-server.md), or pass --allow-writable-login to read with this one anyway`,
      { stream: stream.name })
  }

  #run (stream: StreamConfig, doing: string, sql: string, params: readonly MssqlParameter[] = []): Promise<MssqlRows> {
    return this.#reads.run(stream, doing, () => runMssql(this.#pool, sql, params))
  }
}

/**
 * The SQL Server dialect for a `mssql://` / `sqlserver://` URL or an ADO.NET connection string
 * (a small pool; connections open on the first read).
 */
export function createMssqlDialect (url: string, options: SourceDialectOptions = {}): SourceDialect {
  return new MssqlDialect(createMssqlPool(url, options), options)
}

function prepare (stream: StreamConfig, introspection: MssqlIntrospection, database: MssqlDatabaseFacts): PreparedStream {
  const { description, columns: infos } = introspection
  checkColumnTypes(stream, introspection, mssqlTypeProblem)
  const conversion = createRowConversion(stream, description, stream.columns.map((c, i) => createMssqlValueConverter(c.type, infos[i]!)))
  const keyParameters = prepareKeyParameters(stream, introspection, conversion.keyIndexes, { keyProblem: mssqlKeyProblem, createKeyParameter: createMssqlKeyParameter })
  const readForms = stream.columns.map((c, i) => mssqlReadForm(c.type, infos[i]!))
  const isolation: MssqlIsolation = stream.source.nolock === true ? 'READ UNCOMMITTED' : database.snapshotIsolation ? 'SNAPSHOT' : 'READ COMMITTED'
  const spec = {
    source: 'table' in introspection.source ? { table: introspection.source.table } : { query: introspection.source.query },
    columns: description.columns.map((c, i) => ({ column: c.from, read: readForms[i]! })),
    key: conversion.keyIndexes.map((i, k) => ({ column: description.columns[i]!.from, compare: keyParameters[k]!.compare })),
    isolation,
    nolock: stream.source.nolock === true && 'table' in introspection.source
  }
  const normalisers = introspection.uniqueIndex === undefined ? conversion.keyIndexes.map((i) => mssqlKeyNormaliser(infos[i]!)) : []
  return {
    ...conversion,
    introspection,
    isolation,
    firstPageSql: buildPageSql(spec, false),
    nextPageSql: buildPageSql(spec, true),
    readForms,
    keyParameters,
    ...(normalisers.some((n) => n !== undefined) ? { keyNormalisers: normalisers } : {}),
    checked: false
  }
}

/**
 * The first page's result metadata against the plan: as many columns as selected, each of a
 * driver type its select expression can produce. A mismatch means the source changed between
 * `describe` and the read; the stream is described again on the next call.
 */
function checkResultColumns (stream: StreamConfig, prepared: PreparedStream, columns: readonly MssqlColumnMetadataLike[]): void {
  if (columns.length === 0) return
  const { description } = prepared.introspection
  if (columns.length !== description.columns.length) {
    throw new SourceError('SIS_SRC_READ', `stream '${stream.name}': a page came back with ${columns.length} columns, ${description.columns.length} were selected; the source changed since it was described`, { stream: stream.name, transient: true })
  }
  columns.forEach((meta, i) => {
    const got = driverTypeName(meta)
    const expected = expectedDriverTypes(prepared.readForms[i]!, prepared.introspection.columns[i]!)
    if (got !== undefined && expected !== undefined && !expected.includes(got)) {
      const column = description.columns[i]!
      throw new SourceError('SIS_SRC_READ',
        `stream '${stream.name}', column '${column.name}' (from ${column.from} ${column.sourceType}): the driver delivered ${got}, where ${expected.join(' or ')} was expected; the source changed since it was described`,
        { stream: stream.name, column: column.name, transient: true })
    }
  })
}

/**
 * Equal neighbours as SQL Server's collation sees them (`'abc'` and `'ABC '` under a `_CI_`
 * collation): `checkKeysIncrease` compares wire values, which differ, but the keyset comparison
 * would treat them as one key and skip the second row. Only for keys no unique index vouches for.
 */
function checkCollatedKeysIncrease (stream: StreamConfig, prepared: PreparedStream, rows: readonly WireRow[]): void {
  const keys = prepared.keyIndexes
  const normalisers = prepared.keyNormalisers!
  const same = (a: WireRow, b: WireRow): boolean => keys.every((i, k) => {
    const normalise = normalisers[k]
    return normalise === undefined || typeof a[i] !== 'string' || typeof b[i] !== 'string'
      ? a[i] === b[i]
      : normalise(a[i] as string) === normalise(b[i] as string)
  })
  for (let r = 1; r < rows.length; r++) {
    if (same(rows[r - 1]!, rows[r]!)) {
      const key = (row: WireRow): string => keys.map((i) => `${stream.columns[i]!.name}: ${describeSourceValue(row[i])}`).join(', ')
      throw new SourceError('SIS_SRC_KEY',
        `stream '${stream.name}': the source rows with keys {${key(rows[r - 1]!)}} and {${key(rows[r]!)}} are one key under the column's collation (case, accents or trailing spaces do not count); target.key (${stream.target.key.join(', ')}) must identify one row, or pages would skip rows`,
        { stream: stream.name, exitCode: 1 })
    }
  }
}
