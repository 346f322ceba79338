import type { StreamConfig } from '@sisporta/contracts'
import { checkPageSize, convertPage, createRowConversion, type RowConversion } from '../convert-rows.js'
import { SourceError } from '../errors.js'
import { afterParameters, prepareKeyParameters } from '../key-parameters.js'
import { PreparedStreams } from '../prepared-streams.js'
import { ReadGuard } from '../read-errors.js'
import { checkColumnTypes } from '../type-fit.js'
import type {
  KeyValues, SourceDescription, SourceDialect, SourceDialectOptions, SourceLogger, ValuesChanged, WireRow
} from '../source-dialect.js'
import { describeSourceValue } from '../wire-convert.js'
import { keyColumnIndexes, keyOf } from '../stream-keys.js'
import {
  MSSQL_ERRORS, createMssqlPool, driverTypeName, runMssql,
  type MssqlColumnMetadataLike, type MssqlPoolLike, type MssqlRows
} from './mssql-driver.js'
import {
  introspectMssqlStream, readMssqlDatabase,
  type MssqlDatabaseFacts, type MssqlIntrospection, type MssqlRunner
} from './mssql-introspector.js'
import { checkVarcharKeys, varcharKeyEncodings } from './mssql-key-checks.js'
import {
  SILENT_FILTERS_SQL, checkSilentFilters, hiddenPoliciesWarning, silentFilterFacts, silentFiltersParameters, type MssqlObjectFacts, type SilentFiltersSubject
} from './mssql-silent-filters.js'
import { describeWriteCapabilities, findWriteCapabilities, type WriteCapability } from './mssql-write-access.js'
import {
  ESTIMATE_ROWS_SQL, PAGE_SIZE_PARAMETER, buildPageSql, buildQueryDescribeSql, keyParameterName,
  type MssqlIsolation, type MssqlParameter, type MssqlReadForm, type MssqlSelectColumn
} from './mssql-sql.js'
import { expectedDriverTypes, mssqlKeyProblem, mssqlReadForm, mssqlTypeProblem, type MssqlColumnInfo } from './mssql-types.js'
import { createMssqlKeyParameter, createMssqlValueConverter, type MssqlKeyParameter } from './mssql-values.js'
import { LoadFractionCounts, countCutFractions, createFractionTallies, findCutFractions, reportTruncatedFractions, type TruncatedFractions } from './mssql-fraction.js'

/** The most rows one page may ask for: a page is one short statement, never a long read. */
export const MSSQL_MAX_PAGE_ROWS = 50_000

/**
 * The most rows one statement reads of a stream with LOB columns (`(max)`, text, ntext, image,
 * xml) under locking READ COMMITTED: SQL Server keeps the shared locks of rows with LOB data
 * until the statement ends, and a statement holding thousands of them escalates to a table lock
 * that blocks the ERP's writers. A larger page is read as several statements of this size.
 */
export const MSSQL_LOB_LOCKING_PAGE_ROWS = 1000

/** Everything reading a stream needs, worked out once from its introspection. */
interface PreparedStream extends RowConversion {
  readonly introspection: MssqlIntrospection
  readonly isolation: MssqlIsolation
  readonly firstPageSql: string
  readonly nextPageSql: string
  readonly readForms: readonly MssqlReadForm[]
  readonly keyParameters: readonly MssqlKeyParameter[]
  /** Per column, for `fraction: truncate`: the values cut in this load, logged after its last page. */
  readonly truncatedFractions: readonly (TruncatedFractions | undefined)[]
  /**
   * No unique index vouches for the key (a view, a query): pages carry SQL Server's own key
   * comparisons, and a next page starts at the previous page's last key (see `MssqlPageSpec.checkKeys`).
   */
  readonly checkKeys: boolean
  /** Per key column: the database code page a varchar key must survive (`checkVarcharKeys`). */
  readonly keyEncodings: readonly (string | undefined)[]
  /** Whether a page's result metadata has been checked against the plan (the first page's). */
  checked: boolean
  /** Rows per statement when LOB columns are read under locking READ COMMITTED (`MSSQL_LOB_LOCKING_PAGE_ROWS`). */
  readonly lobPageRows?: number
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
  /** `fraction: truncate` values cut per stream in its current load, for the seal (`valuesChanged`). */
  readonly #loadFractions = new LoadFractionCounts()
  #database: Promise<MssqlDatabaseFacts> | undefined
  #warnedHiddenPolicies = false
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
    this.#loadFractions.start(stream)
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
    // a load's first page (or that page read again) counts the load's cut values from zero
    if (after === undefined) this.#loadFractions.start(stream)
    const prepared = await this.#prepare(stream)
    if (prepared.lobPageRows !== undefined && limit > prepared.lobPageRows) return await this.#readInSteps(stream, after, limit, prepared.lobPageRows)
    // a checked next page starts at the previous page's last key: one row more to hand out `limit`
    const startsAtAfter = prepared.checkKeys && after !== undefined
    const params: MssqlParameter[] = [{ name: PAGE_SIZE_PARAMETER, type: { kind: 'int' }, value: startsAtAfter ? limit + 1 : limit }]
    if (after !== undefined) {
      afterParameters(stream, prepared.keyParameters, after).forEach((value, k) => {
        params.push({ name: keyParameterName(k), type: prepared.keyParameters[k]!.type, value })
      })
    }
    const sql = after === undefined ? prepared.firstPageSql : prepared.nextPageSql
    const started = performance.now()
    const result = await this.#run(stream, 'read a page', sql, params)
    if (!prepared.checked) {
      checkResultColumns(stream, prepared, result.columns, prepared.checkKeys ? (startsAtAfter ? 2 : 1) : 0)
      prepared.checked = true
    }
    const flags = prepared.checkKeys ? takeKeyChecks(prepared, result.rows, startsAtAfter) : undefined
    const cut = findCutFractions(result.rows, prepared.truncatedFractions)
    let rows = convertPage(stream, prepared, result.rows)
    checkVarcharKeys(stream, prepared.keyIndexes, prepared.keyEncodings, rows)
    if (flags !== undefined) rows = checkedPage(stream, prepared, rows, flags, limit)
    this.#log?.debug({ stream: stream.name, rows: rows.length, ms: Math.round(performance.now() - started) }, 'source page read')
    // counts the rows handed out only (by identity): not the previous page's last row read again, nor one beyond `limit`
    if (cut !== undefined) this.#loadFractions.add(stream, countCutFractions(rows, cut, prepared.truncatedFractions))
    // a page shorter than asked for is the load's last
    if (rows.length < limit) reportTruncatedFractions(stream, prepared.truncatedFractions, this.#log)
    return rows
  }

  /** The `fraction: truncate` values cut in the stream's current load (all columns), for the load record. */
  valuesChanged (stream: StreamConfig): ValuesChanged {
    return { truncatedFractions: this.#loadFractions.of(stream) }
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
      const objectFacts = await this.#silentFilters(stream, run, introspection, database)
      const keyEncodings = await varcharKeyEncodings(run, stream, introspection, keyColumnIndexes(stream))
      const prepared = prepare(stream, introspection, database, keyEncodings, objectFacts)
      if (objectFacts.memoryOptimizedReads.length > 0) {
        this.#log?.warn({ stream: stream.name, tables: objectFacts.memoryOptimizedReads },
          `the stream reads the memory-optimized ${objectFacts.memoryOptimizedReads.join(', ')} through a view or query, where no WITH (SNAPSHOT) hint can reach it and session SNAPSHOT fails (error 41332): pages are read at READ COMMITTED${stream.source.nolock === true ? ' (nolock ignored)' : ''}, the memory-optimized tables as of each page's statement, the others as READ COMMITTED reads them (docs/sql-server.md §2)`)
      }
      if (prepared.lobPageRows !== undefined) {
        this.#log?.warn({ stream: stream.name, rows: prepared.lobPageRows },
          `the stream reads LOB columns at locking READ COMMITTED (the database has no snapshot isolation): pages are read in statements of at most ${prepared.lobPageRows} rows, so that no statement keeps enough shared locks to escalate to a table lock; allow snapshot isolation to read larger pages (docs/sql-server.md §2)`)
      }
      return prepared
    })
  }

  /** RLS filters and masks on what the stream reads (refused unless the stream opts in), and which memory-optimized tables it reads. */
  async #silentFilters (stream: StreamConfig, run: MssqlRunner, introspection: MssqlIntrospection, database: MssqlDatabaseFacts): Promise<MssqlObjectFacts> {
    const { source, description } = introspection
    const subject: SilentFiltersSubject = 'table' in source
      ? (source.kind === 'table' ? { kind: 'table', objectId: source.objectId } : { kind: 'view', objectId: source.objectId, object: description.object })
      : { kind: 'query', query: source.query, describeSql: buildQueryDescribeSql(source.query) }
    const { rows } = await run(SILENT_FILTERS_SQL, silentFiltersParameters(subject))
    const facts = silentFilterFacts(rows, description.object, description.columns.map((c) => c.from), subject.kind)
    for (const warning of checkSilentFilters(stream, facts, database.login, database.name)) this.#log?.warn({ stream: stream.name }, warning)
    if (facts.policiesHidden && !this.#warnedHiddenPolicies) {
      this.#warnedHiddenPolicies = true
      this.#log?.warn({ stream: stream.name, login: database.login }, hiddenPoliciesWarning(database.login))
    }
    return facts
  }

  /** `limit` rows as statements of `step` rows each, every one after the previous one's last key; short only at the end. */
  async #readInSteps (stream: StreamConfig, after: KeyValues | undefined, limit: number, step: number): Promise<WireRow[]> {
    const rows: WireRow[] = []
    let from = after
    // a step that fails makes the whole page be read again: the steps read so far are not counted twice
    const cutBefore = this.#loadFractions.of(stream)
    try {
      while (rows.length < limit) {
        const want = Math.min(step, limit - rows.length)
        const part = await this.readPage(stream, from, want)
        rows.push(...part)
        if (part.length < want) break
        from = keyOf(stream, part[part.length - 1]!)
      }
    } catch (err) {
      this.#loadFractions.set(stream, cutBefore)
      throw err
    }
    return rows
  }

  /** The database's facts and the login's write check: cached between reads, asked again by every `describe` (settings and grants may have changed). */
  #databaseFacts (stream: StreamConfig): Promise<MssqlDatabaseFacts> {
    if (this.#database === undefined) {
      const run: MssqlRunner = (sql, params) => this.#run(stream, 'check the source login', sql, params)
      const database = readMssqlDatabase(run).then(async (facts) => {
        this.#checkWriteAccess(stream, await findWriteCapabilities(run, facts), facts)
        this.#log?.debug({ database: facts.name, version: facts.version, login: facts.login, snapshot: facts.snapshotIsolation, readCommittedSnapshot: facts.readCommittedSnapshot, updateability: facts.updateability }, 'source database')
        return facts
      })
      database.catch(() => { if (this.#database === database) this.#database = undefined })
      this.#database = database
    }
    return this.#database
  }

  /** sisporta reads only: a login that could write is refused unless the operator said otherwise. */
  #checkWriteAccess (stream: StreamConfig, capabilities: readonly WriteCapability[], database: MssqlDatabaseFacts): void {
    if (capabilities.length === 0) return
    const what = `the source login '${database.login}' (user '${database.user}' in database '${database.name}') can write: ${describeWriteCapabilities(capabilities)}`
    if (this.#allowWritableLogin) {
      this.#log?.warn({ stream: stream.name, login: database.login, can: capabilities.map((c) => c.can) }, `${what}; reading anyway because writable logins are allowed`)
      return
    }
    throw new SourceError('SIS_SRC_WRITABLE_LOGIN',
      `stream '${stream.name}': ${what}. sisporta only reads and needs a read-only login: remove these, or create one with SELECT on the mapped tables only (docs/sql-server.md §1); or pass --allow-writable-login (SISPORTA_ALLOW_WRITABLE_LOGIN=1) to read with this one anyway`,
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

function prepare (stream: StreamConfig, introspection: MssqlIntrospection, database: MssqlDatabaseFacts, keyEncodings: readonly (string | undefined)[], objectFacts?: MssqlObjectFacts): PreparedStream {
  const { description, columns: infos } = introspection
  checkColumnTypes(stream, introspection, mssqlTypeProblem)
  const truncatedFractions = createFractionTallies(stream)
  const conversion = createRowConversion(stream, description, stream.columns.map((c, i) => createMssqlValueConverter(c.type, infos[i]!, truncatedFractions[i] !== undefined)))
  const keyParameters = prepareKeyParameters(stream, introspection, conversion.keyIndexes, { keyProblem: mssqlKeyProblem, createKeyParameter: createMssqlKeyParameter })
  const selects = stream.columns.map((c, i) => selectColumn(description.columns[i]!.from, c.type, infos[i]!, conversion.keyIndexes.includes(i)))
  const readForms = selects.map((s) => s.read)
  // a memory-optimized table fails under session SNAPSHOT (41332): READ COMMITTED with the table's own SNAPSHOT hint;
  // under a view or query no hint reaches it: READ COMMITTED (an autocommit statement reads it as of its start), no NOLOCK
  const memoryOptimized = objectFacts?.memoryOptimized === true
  const readsMemoryOptimized = memoryOptimized || (objectFacts?.memoryOptimizedReads.length ?? 0) > 0
  const isolation: MssqlIsolation = readsMemoryOptimized ? 'READ COMMITTED' : stream.source.nolock === true ? 'READ UNCOMMITTED' : database.snapshotIsolation ? 'SNAPSHOT' : 'READ COMMITTED'
  const lockingLobs = isolation === 'READ COMMITTED' && !memoryOptimized && !database.readCommittedSnapshot && infos.some((info) => info.length === -1)
  const spec = {
    source: 'table' in introspection.source ? { table: introspection.source.table } : { query: introspection.source.query },
    columns: selects,
    key: conversion.keyIndexes.map((i, k) => ({ column: description.columns[i]!.from, compare: keyParameters[k]!.compare })),
    isolation,
    nolock: stream.source.nolock === true && 'table' in introspection.source && !readsMemoryOptimized,
    snapshotHint: memoryOptimized,
    checkKeys: introspection.uniqueIndex === undefined
  }
  return {
    ...conversion,
    introspection,
    isolation,
    firstPageSql: buildPageSql(spec, false),
    nextPageSql: buildPageSql(spec, true),
    readForms,
    keyParameters,
    truncatedFractions,
    checkKeys: spec.checkKeys,
    keyEncodings,
    checked: false,
    ...(lockingLobs ? { lobPageRows: MSSQL_LOB_LOCKING_PAGE_ROWS } : {})
  }
}

/**
 * The first page's result metadata against the plan: as many columns as selected, each of a
 * driver type its select expression can produce. A mismatch means the source changed between
 * `describe` and the read; the stream is described again on the next call.
 */
function checkResultColumns (stream: StreamConfig, prepared: PreparedStream, columns: readonly MssqlColumnMetadataLike[], checks: number): void {
  if (columns.length === 0) return
  const { description } = prepared.introspection
  // `checks`: the key-check columns that follow the selected ones (see `MssqlPageSpec.checkKeys`)
  if (columns.length !== description.columns.length + checks) {
    throw new SourceError('SIS_SRC_READ', `stream '${stream.name}': a page came back with ${columns.length} columns, ${description.columns.length} were selected; the source changed since it was described`, { stream: stream.name, transient: true })
  }
  columns.slice(0, description.columns.length).forEach((meta, i) => {
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
 * How one column is selected. Character data of a code page (`char`, `varchar`, `text`) is
 * converted to `nvarchar` by SQL Server itself, which knows every code page, rather than decoded
 * by the driver's iconv-lite tables (CP1252 0x81 and 0x8D would arrive as U+FFFD); `ntext` too,
 * as `nvarchar(max)`. Key columns are read as stored: their values go back as the next page's
 * start, in the column's own type, and are checked to survive that (`checkVarcharKeys`).
 */
function selectColumn (column: string, type: StreamConfig['columns'][number]['type'], info: MssqlColumnInfo, key: boolean): MssqlSelectColumn {
  const t = info.dataType
  if (!key && (t === 'char' || t === 'varchar' || t === 'text' || t === 'ntext')) {
    const length = info.length === undefined || info.length === -1 || info.length > 4000 ? undefined : info.length
    return { column, read: 'unicode-text', ...(length === undefined ? {} : { length }) }
  }
  return { column, read: mssqlReadForm(type, info) }
}

/** The key-check columns of a checked page (see `MssqlPageSpec.checkKeys`), removed from its rows. */
interface KeyChecks {
  /** Per row: SQL Server found its key equal to the previous row's. */
  readonly same: boolean[]
  /** Per row: its key equals the `after` key the page started at. */
  readonly atAfter: boolean[]
}

function takeKeyChecks (prepared: PreparedStream, raw: unknown[][], startsAtAfter: boolean): KeyChecks {
  const width = prepared.introspection.description.columns.length
  const yes = (v: unknown): boolean => v === 1 || v === true
  const checks: KeyChecks = { same: [], atAfter: [] }
  for (const row of raw) {
    checks.same.push(yes(row[width]))
    checks.atAfter.push(startsAtAfter && yes(row[width + 1]))
    row.length = width
  }
  return checks
}

/**
 * A checked page as handed out: fails with `SIS_SRC_KEY` when SQL Server found two rows with one
 * key under the key's collation — within the page, or straddling it and the page before (which
 * ended on that key: this page starts at it) — and drops the row of the `after` key itself.
 */
function checkedPage (stream: StreamConfig, prepared: PreparedStream, rows: WireRow[], checks: KeyChecks, limit: number): WireRow[] {
  const keys = prepared.keyIndexes
  const key = (row: WireRow): string => keys.map((i) => `${stream.columns[i]!.name}: ${describeSourceValue(row[i])}`).join(', ')
  const repeated = checks.same.indexOf(true)
  const atAfter = checks.atAfter.filter(Boolean).length
  if (repeated >= 0 || atAfter > 1) {
    const r = repeated >= 0 ? repeated : checks.atAfter.lastIndexOf(true)
    const pair = r > 0 ? `{${key(rows[r - 1]!)}} and {${key(rows[r]!)}}` : `{${key(rows[r]!)}} and a row before it`
    const where = checks.atAfter[r - 1] === true ? ' (one of them the last row of the page before)' : ''
    throw new SourceError('SIS_SRC_KEY',
      `stream '${stream.name}': the source rows with keys ${pair}${where} are one key as SQL Server compares them (the key column's collation may ignore case, accents, width or trailing spaces); ` +
      `target.key (${stream.target.key.join(', ')}) must identify one row, or pages would skip rows: map a unique key, or make the view or query return one row per key`,
      { stream: stream.name, exitCode: 1 })
  }
  // the previous page's last row, read again (absent when it was deleted in between)
  const page = atAfter === 1 ? rows.filter((_, r) => !checks.atAfter[r]) : rows
  return page.length > limit ? page.slice(0, limit) : page
}
