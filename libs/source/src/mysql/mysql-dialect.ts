import type { StreamConfig } from '@sisporta/contracts'
import { checkKeysIncrease, checkPageSize, convertPage, convertRows, createRowConversion, type RowConversion } from '../convert-rows.js'
import { checkedPage, takeKeyFlags } from '../page-boundary-keys.js'
import { afterParameters, prepareKeyParameters } from '../key-parameters.js'
import { PreparedStreams } from '../prepared-streams.js'
import { ReadGuard } from '../read-errors.js'
import { checkColumnTypes } from '../type-fit.js'
import type {
  KeyValues, SourceDescription, SourceDialect, SourceDialectOptions, SourceLogger, WireRow
} from '../source-dialect.js'
import { keyColumnIndexes } from '../stream-keys.js'
import { MYSQL_ERRORS, createMysqlPool, withReadOnlySession, type MysqlConnectionLike, type MysqlPoolLike } from './mysql-driver.js'
import { introspectMysqlStream, type MysqlIntrospection } from './mysql-introspector.js'
import { FIND_TABLE_SQL, buildPageSql, keysetParameters } from './mysql-sql.js'
import { mysqlTypeProblem } from './mysql-types.js'
import {
  createMysqlKeyParameter, createMysqlValueConverter, mysqlKeyProblem, type MysqlKeyParameter
} from './mysql-values.js'

/** Everything reading a stream needs, worked out once from its introspection. */
interface PreparedStream extends RowConversion {
  readonly introspection: MysqlIntrospection
  readonly firstPageSql: string
  readonly nextPageSql: string
  readonly keyParameters: readonly MysqlKeyParameter[]
  /** No unique index vouches for the key: next pages start at the previous key (`MysqlPageSpec.checkKeys`). */
  readonly checkKeys: boolean
}

/**
 * The MySQL/MariaDB source dialect over a mysql2 pool (or anything shaped like it: see
 * `MysqlPoolLike`). The pool must deliver values as `MYSQL_VALUE_OPTIONS` makes mysql2 do;
 * `createMysqlDialect(url)` builds one so.
 *
 * @example
 * const dialect = createMysqlDialect('mysql://reader@erp/erp')
 * const rows = await dialect.readPage(stream, undefined, 1000)
 */
export class MysqlDialect implements SourceDialect {
  readonly engine = 'mysql'
  readonly #pool: MysqlPoolLike
  readonly #log: SourceLogger | undefined
  readonly #sessions = new WeakSet<object>()
  readonly #prepared = new PreparedStreams<PreparedStream>()
  // a failed read forgets the stream: the schema may have moved under it, describe again next time
  readonly #reads = new ReadGuard(MYSQL_ERRORS, (stream) => this.#prepared.forget(stream))

  constructor (pool: MysqlPoolLike, options: { readonly log?: SourceLogger } = {}) {
    this.#pool = pool
    this.#log = options.log
  }

  async describe (stream: StreamConfig): Promise<SourceDescription> {
    // always asks the server again: the source schema may have changed since the last load
    this.#prepared.forget(stream)
    const { description, uniqueIndex } = (await this.#prepare(stream)).introspection
    this.#log?.debug({ stream: stream.name, object: description.object, columns: description.columns.map((c) => `${c.from} ${c.sourceType}`), uniqueKey: uniqueIndex ?? 'checked while reading' }, 'source described')
    return description
  }

  async readPage (stream: StreamConfig, after: KeyValues | undefined, limit: number): Promise<WireRow[]> {
    checkPageSize(stream, limit)
    const prepared = await this.#prepare(stream)
    const key = after === undefined ? [] : afterParameters(stream, prepared.keyParameters, after)
    // a checked next page starts at the previous page's last key: one row more to hand out `limit`
    const startsAtAfter = prepared.checkKeys && after !== undefined
    const params: unknown[] = [...(startsAtAfter ? key : []), ...keysetParameters(key)]
    // as text: MySQL 8.0.22+ refuses a DOUBLE for LIMIT ?, and mysql2 sends numbers as DOUBLE
    params.push(String(startsAtAfter ? limit + 1 : limit))
    const sql = after === undefined ? prepared.firstPageSql : prepared.nextPageSql
    const started = performance.now()
    const raw = await this.#run(stream, 'read a page', async (connection) => {
      const [result] = await connection.execute({ sql, rowsAsArray: true }, params)
      return result as unknown[][]
    })
    let rows: WireRow[]
    if (prepared.checkKeys) {
      const flags = takeKeyFlags(raw, stream.columns.length, startsAtAfter)
      // the database's verdict first: two keys equal under a collation may differ to JavaScript
      rows = checkedPage(stream, prepared.keyIndexes, convertRows(stream, prepared, raw), flags, limit, 'MySQL/MariaDB')
      checkKeysIncrease(stream, prepared.keyIndexes, rows)
    } else {
      rows = convertPage(stream, prepared, raw)
    }
    this.#log?.debug({ stream: stream.name, rows: rows.length, ms: Math.round(performance.now() - started) }, 'source page read')
    return rows
  }

  async estimateRows (stream: StreamConfig): Promise<number | undefined> {
    const { source } = (await this.#prepare(stream)).introspection
    if (!('table' in source)) return undefined
    const found = await this.#run(stream, 'estimate rows', async (connection) => {
      const [result] = await connection.execute({ sql: FIND_TABLE_SQL, rowsAsArray: true }, [...source.table])
      return result as unknown[][]
    })
    const estimate = found[0]?.[3]
    return estimate === null || estimate === undefined ? undefined : Number(estimate)
  }

  close (): Promise<void> {
    return this.#reads.close(() => this.#pool.end())
  }

  #prepare (stream: StreamConfig): Promise<PreparedStream> {
    return this.#prepared.get(stream, async () => prepare(stream, await this.#run(stream, 'describe the source', (connection) => introspectMysqlStream(connection, stream))))
  }

  #run<T> (stream: StreamConfig, doing: string, work: (connection: MysqlConnectionLike) => Promise<T>): Promise<T> {
    return this.#reads.run(stream, doing, () => withReadOnlySession(this.#pool, this.#sessions, work))
  }
}

/**
 * The MySQL/MariaDB dialect for a `mysql://` or `mariadb://` URL (a small pool; connections
 * open on the first read).
 */
export function createMysqlDialect (url: string, options: SourceDialectOptions = {}): SourceDialect {
  return new MysqlDialect(createMysqlPool(url, options), options)
}

function prepare (stream: StreamConfig, introspection: MysqlIntrospection): PreparedStream {
  // before a load is opened: a column whose type cannot hold what the stream declares fails now, not at its first row
  checkColumnTypes(stream, introspection, mysqlTypeProblem)
  const keyIndexes = keyColumnIndexes(stream)
  const keyParameters = prepareKeyParameters(stream, introspection, keyIndexes, { keyProblem: mysqlKeyProblem, createKeyParameter: createMysqlKeyParameter })
  const spec = {
    source: introspection.source,
    columns: introspection.description.columns.map((c) => c.from),
    key: keyIndexes.map((i, k) => {
      const cast = keyParameters[k]!.cast
      return { column: introspection.description.columns[i]!.from, ...(cast === undefined ? {} : { cast }) }
    }),
    checkKeys: introspection.uniqueIndex === undefined
  }
  const converters = stream.columns.map((c, i) => createMysqlValueConverter(c.type, introspection.columns[i]!))
  return {
    ...createRowConversion(stream, introspection.description, converters),
    introspection,
    firstPageSql: buildPageSql(spec, false),
    nextPageSql: buildPageSql(spec, true),
    keyParameters,
    checkKeys: spec.checkKeys
  }
}
