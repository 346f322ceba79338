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
import {
  POSTGRES_ERRORS, createPostgresPool, withReadOnlySession, type PostgresClientLike, type PostgresPoolLike
} from './postgres-driver.js'
import { introspectPostgresStream, type PostgresIntrospection } from './postgres-introspector.js'
import { FIND_TABLE_SQL, buildPageSql } from './postgres-sql.js'
import { postgresTypeProblem } from './postgres-types.js'
import {
  createPostgresKeyParameter, createPostgresValueConverter, postgresKeyProblem, postgresValueKind, type PostgresKeyParameter
} from './postgres-values.js'

/** Everything reading a stream needs, worked out once from its introspection. */
interface PreparedStream extends RowConversion {
  readonly introspection: PostgresIntrospection
  readonly firstPageSql: string
  readonly nextPageSql: string
  readonly keyParameters: readonly PostgresKeyParameter[]
  /** No unique index vouches for the key: next pages start at the previous key (`PostgresPageSpec.checkKeys`). */
  readonly checkKeys: boolean
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
  readonly #prepared = new PreparedStreams<PreparedStream>()
  // a failed read forgets the stream: the schema may have moved under it, describe again next time
  readonly #reads = new ReadGuard(POSTGRES_ERRORS, (stream) => this.#prepared.forget(stream))

  constructor (pool: PostgresPoolLike, options: { readonly log?: SourceLogger } = {}) {
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
    const values = after === undefined ? [] : afterParameters(stream, prepared.keyParameters, after)
    // a checked next page starts at the previous page's last key: one row more to hand out `limit`
    const startsAtAfter = prepared.checkKeys && after !== undefined
    values.push(startsAtAfter ? limit + 1 : limit)
    const text = after === undefined ? prepared.firstPageSql : prepared.nextPageSql
    const started = performance.now()
    const raw = await this.#run(stream, 'read a page', async (client) => {
      return (await client.query({ text, values, rowMode: 'array' })).rows as unknown[][]
    })
    let rows: WireRow[]
    if (prepared.checkKeys) {
      const flags = takeKeyFlags(raw, stream.columns.length, startsAtAfter)
      // the database's verdict first: two keys equal under a collation may differ to JavaScript
      rows = checkedPage(stream, prepared.keyIndexes, convertRows(stream, prepared, raw), flags, limit, 'PostgreSQL')
      checkKeysIncrease(stream, prepared.keyIndexes, rows)
    } else {
      rows = convertPage(stream, prepared, raw)
    }
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

  close (): Promise<void> {
    return this.#reads.close(() => this.#pool.end())
  }

  #prepare (stream: StreamConfig): Promise<PreparedStream> {
    return this.#prepared.get(stream, async () => prepare(stream, await this.#run(stream, 'describe the source', (client) => introspectPostgresStream(client, stream))))
  }

  #run<T> (stream: StreamConfig, doing: string, work: (client: PostgresClientLike) => Promise<T>): Promise<T> {
    return this.#reads.run(stream, doing, () => withReadOnlySession(this.#pool, this.#sessions, work))
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
  // before a load is opened: a column whose type cannot hold what the stream declares fails now, not at its first row
  checkColumnTypes(stream, introspection, postgresTypeProblem)
  const keyIndexes = keyColumnIndexes(stream)
  const keyParameters = prepareKeyParameters(stream, introspection, keyIndexes, { keyProblem: postgresKeyProblem, createKeyParameter: createPostgresKeyParameter })
  const { description, columns } = introspection
  const spec = {
    source: introspection.source,
    columns: description.columns.map((c, i) => ({ column: c.from, ...(postgresValueKind(columns[i]!) === 'structured' ? { toJson: true } : {}) })),
    key: keyIndexes.map((i) => description.columns[i]!.from),
    checkKeys: introspection.uniqueIndex === undefined
  }
  const converters = stream.columns.map((c, i) => createPostgresValueConverter(c.type, columns[i]!))
  return {
    ...createRowConversion(stream, description, converters),
    introspection,
    firstPageSql: buildPageSql(spec, false),
    nextPageSql: buildPageSql(spec, true),
    keyParameters,
    checkKeys: spec.checkKeys
  }
}
