import { sql, type Kysely, type RawBuilder } from 'kysely'
import {
  MAX_COMPARE_KEYS, ROW_HASH_BYTES, UNKNOWN_ROW_HASH, hashColumnsOf, rowHash,
  type CompareReply, type HashColumn, type StreamConfig
} from '@sisporta/contracts'
import { STAMP, quoteId, type SisportaDatabase } from '@sisporta/db'
import { PersistError } from './errors.js'
import { targetWireValue } from './target-wire-values.js'
import { wireToSql, type SqlValue } from './wire-to-sql.js'

/** Target rows read per statement while comparing a range. */
export const COMPARE_CHUNK_ROWS = 5000
/** Target rows marked per statement. */
const MARK_CHUNK_ROWS = 500

/** One comparison: a source key range and the hashes of its rows, in key order. */
export interface CompareRequest {
  /** The diffed load that asks: its unmatched target rows are marked `−loadId`. Absent: `verify`, nothing written. */
  readonly loadId?: number
  /** Wire values of the range's bounds: lo < key ≤ hi, `null` unbounded. */
  readonly lo: readonly unknown[] | null
  readonly hi: readonly unknown[] | null
  /** {@link ROW_HASH_BYTES} bytes per source row. */
  readonly hashes: Uint8Array
}

/**
 * Compares one key range of a stream's target table with the source's row hashes
 * (docs/reloads.md). Reads the live target rows of the range in key order, a chunk at a time,
 * converts each back to wire values and hashes it as the extractor hashed the source
 * (`rowHash`). A target row matches when a source row of the range has the same hash and the
 * row carries a positive load stamp (a row no load wrote, or one marked absent by a load, is
 * never taken as equal). Returns the positions of the source rows nothing matched — the rows
 * to send — and the target rows nothing matched.
 *
 * For a diffed load, every unmatched target row is marked `_sisporta_load = −loadId` (unless a
 * load as new or newer wrote it): the rows the load then sends carry `loadId` again, and those
 * still marked once it is applied are exactly the rows absent from the source, which the
 * reconciler deletes through the ratio guard. Marks are made before the reply, so a row the
 * load sends afterwards is never marked after it was written; asked again (a retry), the same
 * range gives the same marks.
 *
 * @example
 * const reply = await compareRange(db, stream, { loadId: 43, lo: ['1000'], hi: ['3000'], hashes })
 * reply.send // [17, 1203]: send those two source rows
 */
export async function compareRange (db: Kysely<SisportaDatabase>, stream: StreamConfig, request: CompareRequest): Promise<CompareReply> {
  if (request.hashes.length % ROW_HASH_BYTES !== 0) {
    throw new PersistError('SIS_PERSIST_COMPARE_INVALID', `stream '${stream.name}': ${request.hashes.length} bytes of row hashes is not a whole number of ${ROW_HASH_BYTES}-byte hashes`)
  }
  const plan = comparePlan(stream)
  const sourceRows = request.hashes.length / ROW_HASH_BYTES
  const positions = new Map<string, number>()
  const unknown = Buffer.from(UNKNOWN_ROW_HASH).toString('latin1')
  const hashes = Buffer.from(request.hashes.buffer, request.hashes.byteOffset, request.hashes.length)
  for (let i = 0; i < sourceRows; i++) {
    const hash = hashes.toString('latin1', i * ROW_HASH_BYTES, (i + 1) * ROW_HASH_BYTES)
    if (hash !== unknown) positions.set(hash, i)
  }
  const matched = new Uint8Array(sourceRows)
  const lo = request.lo === null ? undefined : plan.keyParameters(request.lo, 'lo')
  const hi = request.hi === null ? undefined : plan.keyParameters(request.hi, 'hi')
  let after = lo
  let targetRows = 0
  let unmatched = 0
  let marked = 0
  const unmatchedKeys: unknown[][] = []
  for (;;) {
    const conditions: RawBuilder<unknown>[] = []
    if (after !== undefined) conditions.push(plan.keyAfter(after))
    if (hi !== undefined) conditions.push(plan.keyAtMost(hi))
    if (plan.deletedAt !== undefined) conditions.push(sql`${plan.deletedAt} IS NULL`)
    const where = conditions.length === 0 ? sql`` : sql`WHERE ${sql.join(conditions, sql` AND `)}`
    const { rows } = await sql<Record<string, unknown>>`SELECT ${plan.select} FROM ${plan.table} ${where} ORDER BY ${plan.orderBy} LIMIT ${COMPARE_CHUNK_ROWS}`.execute(db)
    const toMark: SqlValue[][] = []
    for (const row of rows) {
      targetRows++
      const wire = plan.columns.map((c) => targetWireValue(c.type, row[c.name]))
      const stamp = row[STAMP.load]
      const stamped = stamp !== null && stamp !== undefined && Number(stamp) > 0
      const position = stamped ? positions.get(rowHash(plan.hashColumns, wire).toString('latin1')) : undefined
      if (position !== undefined && matched[position] === 0) {
        matched[position] = 1
        continue
      }
      unmatched++
      if (unmatchedKeys.length < MAX_COMPARE_KEYS) unmatchedKeys.push(plan.keyIndexes.map((i) => wire[i]))
      if (request.loadId !== undefined) toMark.push(plan.keyIndexes.map((i) => row[plan.columns[i]!.name] as SqlValue))
    }
    if (request.loadId !== undefined) {
      for (let i = 0; i < toMark.length; i += MARK_CHUNK_ROWS) marked += await plan.mark(db, request.loadId, toMark.slice(i, i + MARK_CHUNK_ROWS))
    }
    if (rows.length < COMPARE_CHUNK_ROWS) break
    const last = rows[rows.length - 1]!
    after = plan.keyIndexes.map((i) => last[plan.columns[i]!.name] as SqlValue)
  }
  const send: number[] = []
  for (let i = 0; i < sourceRows; i++) if (matched[i] === 0) send.push(i)
  return { send, targetRows, unmatched, unmatchedKeys, marked }
}

interface ComparePlan {
  readonly columns: StreamConfig['columns']
  readonly hashColumns: readonly HashColumn[]
  /** Positions of the key columns in `columns`. */
  readonly keyIndexes: readonly number[]
  readonly table: RawBuilder<unknown>
  readonly select: RawBuilder<unknown>
  readonly orderBy: RawBuilder<unknown>
  readonly deletedAt: RawBuilder<unknown> | undefined
  keyParameters(values: readonly unknown[], which: 'lo' | 'hi'): SqlValue[]
  keyAfter(values: readonly SqlValue[]): RawBuilder<unknown>
  keyAtMost(values: readonly SqlValue[]): RawBuilder<unknown>
  mark(db: Kysely<SisportaDatabase>, loadId: number, keys: readonly (readonly SqlValue[])[]): Promise<number>
}

const plans = new WeakMap<StreamConfig, ComparePlan>()

/** The statements' parts for one stream, built once. */
function comparePlan (stream: StreamConfig): ComparePlan {
  const cached = plans.get(stream)
  if (cached !== undefined) return cached
  const columns = stream.columns
  const keyIndexes = stream.target.key.map((k) => columns.findIndex((c) => c.name === k))
  const keyIds = keyIndexes.map((i) => sql.raw(quoteId(columns[i]!.name)))
  const stamp = sql.raw(quoteId(STAMP.load))
  const table = sql.raw(quoteId(stream.target.table))
  const deletedAt = stream.deletes === 'soft' ? sql.raw(quoteId(STAMP.deletedAt)) : undefined
  const plan: ComparePlan = {
    columns,
    hashColumns: hashColumnsOf(stream),
    keyIndexes,
    table,
    // a DOUBLE as MySQL's text, read by Number(): mysql2's own parser of the text protocol is
    // off by one unit in the last place for some 17-digit values (632/7 comes back as
    // 90.28571428571428), and the row would differ from its source for ever
    select: sql.raw([...columns.map((c) => c.type === 'float' ? `CAST(${quoteId(c.name)} AS CHAR) AS ${quoteId(c.name)}` : quoteId(c.name)), quoteId(STAMP.load)].join(', ')),
    orderBy: sql.join(keyIds),
    deletedAt,
    keyParameters: (values, which) => {
      if (values.length !== keyIndexes.length) {
        throw new PersistError('SIS_PERSIST_COMPARE_INVALID', `stream '${stream.name}': the range's ${which} has ${values.length} key values, the key has ${keyIndexes.length} columns`)
      }
      try {
        return values.map((v, i) => {
          if (v === null) throw new PersistError('SIS_PERSIST_COMPARE_INVALID', `key column '${columns[keyIndexes[i]!]!.name}' is null`)
          return wireToSql(columns[keyIndexes[i]!]!.type, v)
        })
      } catch (err) {
        throw new PersistError('SIS_PERSIST_COMPARE_INVALID', `stream '${stream.name}': the range's ${which}: ${(err as Error).message}`, { cause: err })
      }
    },
    keyAfter: (values) => lexicographic(keyIds, values, false),
    keyAtMost: (values) => lexicographic(keyIds, values, true),
    mark: async (db, loadId, keys) => {
      const match = sql.join(keys.map((key) => sql`(${sql.join(keyIds.map((id, i) => sql`${id} = ${key[i]}`), sql` AND `)})`), sql` OR `)
      // rows marked already (a repeated comparison) are left as they are
      const result = await sql`UPDATE ${table} SET ${stamp} = ${-loadId} WHERE (${stamp} IS NULL OR (${stamp} < ${loadId} AND ${stamp} <> ${-loadId})) AND (${match})`.execute(db)
      return Number(result.numAffectedRows ?? 0n)
    }
  }
  plans.set(stream, plan)
  return plan
}

/**
 * `key > values` (`atMost` false) or `key ≤ values` (true) in the key's order, spelled out
 * column by column: (k1 > v1) OR (k1 = v1 AND k2 > v2) …
 */
function lexicographic (keys: readonly RawBuilder<unknown>[], values: readonly SqlValue[], atMost: boolean): RawBuilder<unknown> {
  const alternatives: RawBuilder<unknown>[] = []
  for (let i = 0; i < keys.length; i++) {
    const equalBefore = keys.slice(0, i).map((k, j) => sql`${k} = ${values[j]}`)
    const step = atMost ? sql`${keys[i]} < ${values[i]}` : sql`${keys[i]} > ${values[i]}`
    alternatives.push(sql`(${sql.join([...equalBefore, step], sql` AND `)})`)
  }
  if (atMost) alternatives.push(sql`(${sql.join(keys.map((k, j) => sql`${k} = ${values[j]}`), sql` AND `)})`)
  return sql`(${sql.join(alternatives, sql` OR `)})`
}
