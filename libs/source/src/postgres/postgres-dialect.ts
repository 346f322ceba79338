import type { StreamConfig } from '@sisporta/contracts'
import { checkAfter, checkKeysIncrease, convertRows, createRowConversion, type RowConversion } from '../convert-rows.js'
import { SourceError } from '../errors.js'
import type {
  KeyValues, SourceDescription, SourceDialect, SourceDialectOptions, SourceLogger, WireRow
} from '../source-dialect.js'
import { keyColumnIndexes } from '../stream-keys.js'
import {
  createPostgresPool, driverMessage, isTransientPostgresError, withReadOnlySession, type PostgresClientLike, type PostgresPoolLike
} from './postgres-driver.js'
import { introspectPostgresStream, type PostgresIntrospection } from './postgres-introspector.js'
import { FIND_TABLE_SQL, buildPageSql } from './postgres-sql.js'
import {
  createPostgresKeyParameter, createPostgresValueConverter, postgresKeyProblem, postgresValueKind, type PostgresKeyParameter
} from './postgres-values.js'

/** Everything reading a stream needs, worked out once from its introspection. */
interface PreparedStream extends RowConversion {
  readonly introspection: PostgresIntrospection
  readonly firstPageSql: string
  readonly nextPageSql: string
  readonly keyParameters: readonly PostgresKeyParameter[]
}

/**
 * The PostgreSQL source dialect over a pg pool (or anything shaped like it: see
 * `PostgresPoolLike`). The pool must deliver values as `POSTGRES_VALUE_OPTIONS` makes pg do (as
 * text); `createPostgresDialect(url)` builds one so.
 *
 * @example
 * const dialect = createPostgresDialect('postgres://reader@erp/erp')
 * const rows = await dialect.readPage(stream, undefined, 1000)
 */
export class PostgresDialect implements SourceDialect {
  readonly engine = 'postgres'
  readonly #pool: PostgresPoolLike
  readonly #log: SourceLogger | undefined
  readonly #sessions = new WeakSet<object>()
  readonly #prepared = new WeakMap<StreamConfig, Promise<PreparedStream>>()
  #closed = false

  constructor (pool: PostgresPoolLike, options: { readonly log?: SourceLogger } = {}) {
    this.#pool = pool
    this.#log = options.log
  }

  async describe (stream: StreamConfig): Promise<SourceDescription> {
    // always asks the server again: the source schema may have changed since the last load
    this.#prepared.delete(stream)
    const { description } = (await this.#prepare(stream)).introspection
    this.#log?.debug({ stream: stream.name, object: description.object, columns: description.columns.map((c) => `${c.from} ${c.sourceType}`) }, 'source described')
    return description
  }

  async readPage (stream: StreamConfig, after: KeyValues | undefined, limit: number): Promise<WireRow[]> {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new SourceError('SIS_SRC_ARGUMENT', `stream '${stream.name}': page size must be a positive integer, got ${limit}`, { stream: stream.name })
    }
    const prepared = await this.#prepare(stream)
    const values: unknown[] = after === undefined
      ? []
      : checkAfter(stream, prepared.keyIndexes.length, after).map((value, k) => prepared.keyParameters[k]!.toParameter(value))
    values.push(limit)
    const text = after === undefined ? prepared.firstPageSql : prepared.nextPageSql
    const started = performance.now()
    const raw = await this.#run(stream, 'read a page', async (client) => {
      return (await client.query({ text, values, rowMode: 'array' })).rows as unknown[][]
    })
    const rows = convertRows(stream, prepared, raw)
    checkKeysIncrease(stream, prepared.keyIndexes, rows)
    this.#log?.debug({ stream: stream.name, rows: rows.length, ms: Math.round(performance.now() - started) }, 'source page read')
    return rows
  }

  /** `pg_class.reltuples`: undefined for queries, views, and tables never vacuumed or analysed (-1). */
  async estimateRows (stream: StreamConfig): Promise<number | undefined> {
    const { source } = (await this.#prepare(stream)).introspection
    if (!('table' in source)) return undefined
    const found = await this.#run(stream, 'estimate rows', async (client) => {
      return (await client.query({ text: FIND_TABLE_SQL, values: [...source.table], rowMode: 'array' })).rows as unknown[][]
    })
    const [, , , kind, reltuples] = found[0] ?? []
    // a view has no rows of its own; before PostgreSQL 14 its reltuples is 0, not -1
    if (kind === 'v') return undefined
    const estimate = Number(reltuples ?? -1)
    return Number.isFinite(estimate) && estimate >= 0 ? Math.round(estimate) : undefined
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#pool.end()
  }

  #prepare (stream: StreamConfig): Promise<PreparedStream> {
    let prepared = this.#prepared.get(stream)
    if (prepared === undefined) {
      prepared = this.#run(stream, 'describe the source', (client) => introspectPostgresStream(client, stream)).then((i) => prepare(stream, i))
      // a failed describe is not remembered: the next call asks again
      prepared.catch(() => { if (this.#prepared.get(stream) === prepared) this.#prepared.delete(stream) })
      this.#prepared.set(stream, prepared)
    }
    return prepared
  }

  async #run<T> (stream: StreamConfig, doing: string, work: (client: PostgresClientLike) => Promise<T>): Promise<T> {
    if (this.#closed) throw new SourceError('SIS_SRC_CLOSED', `stream '${stream.name}': the source dialect is closed`, { stream: stream.name })
    try {
      return await withReadOnlySession(this.#pool, this.#sessions, work)
    } catch (err) {
      if (err instanceof SourceError) throw err
      // the schema may have moved under a prepared stream: describe again next time
      this.#prepared.delete(stream)
      throw new SourceError('SIS_SRC_READ', `stream '${stream.name}': could not ${doing}: ${driverMessage(err)}`, { stream: stream.name, cause: err, transient: isTransientPostgresError(err) })
    }
  }
}

/**
 * The PostgreSQL dialect for a `postgres://` or `postgresql://` URL (a small pool; connections
 * open on the first read).
 */
export function createPostgresDialect (url: string, options: SourceDialectOptions = {}): SourceDialect {
  return new PostgresDialect(createPostgresPool(url, options), options)
}

function prepare (stream: StreamConfig, introspection: PostgresIntrospection): PreparedStream {
  const keyIndexes = keyColumnIndexes(stream)
  const keyParameters = keyIndexes.map((i) => {
    const column = stream.columns[i]!
    const info = introspection.columns[i]!
    const problem = postgresKeyProblem(column.type, info)
    if (problem !== undefined) {
      throw new SourceError('SIS_SRC_KEY', `stream '${stream.name}': key column '${column.name}' (from ${introspection.description.columns[i]!.from} ${info.columnType}, type ${column.type}): ${problem}`, { stream: stream.name, column: column.name })
    }
    return createPostgresKeyParameter(column.type, info)
  })
  const { description, columns } = introspection
  const spec = {
    source: introspection.source,
    columns: description.columns.map((c, i) => ({ column: c.from, ...(postgresValueKind(columns[i]!) === 'structured' ? { toJson: true } : {}) })),
    key: keyIndexes.map((i) => description.columns[i]!.from)
  }
  const converters = stream.columns.map((c, i) => createPostgresValueConverter(c.type, columns[i]!))
  return {
    ...createRowConversion(stream, description, converters),
    introspection,
    firstPageSql: buildPageSql(spec, false),
    nextPageSql: buildPageSql(spec, true),
    keyParameters
  }
}
