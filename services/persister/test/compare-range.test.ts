import t from 'tap'
import { sql } from 'kysely'
import { createDb, migrate } from '@sisporta/db'
import { parseConfig } from '@sisporta/config'
import { testDatabase } from '@sisporta/testkit'
import { headers as natsHeaders } from 'nats'
import { BatchHeaders, ROW_HASH_BYTES, busNames, canonicalValue, hashColumnsOf, rowHash, type StreamConfig } from '@sisporta/contracts'
import { applyBatch, createBatchDecoder } from '../src/index.js'
import { COMPARE_CHUNK_ROWS, compareRange } from '../src/compare-range.js'
import { targetWireValue } from '../src/target-wire-values.js'

/**
 * The persister's half of a diffed reload against a real MariaDB: rows written by the real
 * `applyBatch`, read back by `compareRange` and hashed as the extractor hashes the same wire
 * rows. The round trip of every wire type is the heart of it: a value that comes back in
 * another canonical spelling makes every diffed reload send its row again.
 */

const CONFIG_YAML = `
streams:
  - name: every
    source: { table: erp.every }
    target: { table: every, key: [id] }
    deletes: hard
    columns:
      - { name: id, from: id, type: bigint }
      - { name: s, from: s, type: string }
      - { name: i, from: i, type: int }
      - { name: b, from: b, type: bigint }
      - { name: d, from: d, type: decimal, precision: 19, scale: 4 }
      - { name: f, from: f, type: float }
      - { name: ok, from: ok, type: bool }
      - { name: day, from: day, type: date }
      - { name: t3, from: t3, type: datetime, precision: 3 }
      - { name: t6, from: t6, type: datetime, precision: 6 }
      - { name: g, from: g, type: uuid }
      - { name: bin, from: bin, type: binary }
      - { name: doc, from: doc, type: json }
  - name: nobin
    source: { table: erp.nobin }
    target: { table: nobin, key: [id] }
    deletes: hard
    columns:
      - { name: id, from: id, type: bigint }
      - { name: s, from: s, type: string }
      - { name: i, from: i, type: int }
      - { name: b, from: b, type: bigint }
      - { name: d, from: d, type: decimal, precision: 19, scale: 4 }
      - { name: f, from: f, type: float }
      - { name: ok, from: ok, type: bool }
      - { name: day, from: day, type: date }
      - { name: t3, from: t3, type: datetime, precision: 3 }
      - { name: t6, from: t6, type: datetime, precision: 6 }
      - { name: g, from: g, type: uuid }
      - { name: doc, from: doc, type: json }
  - name: pairs
    source: { table: erp.pairs }
    target: { table: pairs, key: [k, n] }
    deletes: hard
    columns:
      - { name: k, from: k, type: string, length: 20 }
      - { name: n, from: n, type: int }
      - { name: v, from: v, type: string }
  - name: lines
    source: { table: erp.lines }
    target: { table: labels, key: [id] }
    deletes: hard
    columns:
      - { name: id, from: id, type: bigint }
      - { name: label, from: label, type: string }
  - name: softs
    source: { table: erp.softs }
    target: { table: softs, key: [id] }
    deletes: soft
    columns:
      - { name: id, from: id, type: int }
      - { name: label, from: label, type: string }
`
const config = parseConfig(CONFIG_YAML, 'compare-range-test.yaml', {})
const every = config.stream('every')!
/** `every` without its binary column: the persister's transcoder (fast path) takes its batches, it leaves binary ones to the general path. */
const nobin = config.stream('nobin')!
const pairs = config.stream('pairs')!
const lines = config.stream('lines')!
const softs = config.stream('softs')!

/** Wire rows of `every` as an extractor sends them: every type, edge values, nulls. Key order. */
const EVERY_ROWS: unknown[][] = [
  ['1', 'plain', 0, '0', '0.0000', 0, false, '2024-02-29', '2026-01-02T03:04:05', '2026-01-02T03:04:05', '00000000-0000-0000-0000-000000000000', '', {}],
  ['2', 'Zoë 😀 \\ "q" \n\t', -2147483648, '-9223372036854775808', '-999999999999999.9999', -0, true, '1000-01-01', '2026-01-02T03:04:05.1', '2026-01-02T03:04:05.000001', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'AAE=', { a: [1, 'x', null, { b: true }], z: 1.5 }],
  ['3', 'trailing  ', 2147483647, '9223372036854775807', '999999999999999.9999', 0.1, false, '9999-12-31', '2026-12-31T23:59:59.999', '2026-12-31T23:59:59.999999', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '/+8A', [1, 2, 3]],
  ['4', '', 42, '7', '12.5', 1 / 3, true, '2024-01-01', '2026-01-02T03:04:05.120', '2026-01-02T03:04:05.12', '123e4567-e89b-12d3-a456-426614174000', Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('base64'), { 'é': 'ü', emoji: '😀', esc: '\u0000 / \\ "' }],
  ['5', 'x', 1, '1', '0.0001', 5e-324, false, '2024-02-29', '2026-01-02T00:00:00.000', '2026-01-02T00:00:00.000000', '123e4567-e89b-12d3-a456-426614174001', 'AA==', []],
  ['6', 'y', -1, '-1', '-0.5', 1.7976931348623157e308, true, '2024-02-29', '2026-01-02T00:00:00.5', '2026-01-02T00:00:00.5', '123e4567-e89b-12d3-a456-426614174002', 'AAAA', { nested: { deeper: { deepest: [{}] } } }],
  ['7', 'z', 7, '123456789012345678', '12.5000', -1e-300, false, '2024-02-29', '2026-01-02T00:00:00.05', '2026-01-02T00:00:00.050', '123e4567-e89b-12d3-a456-426614174003', 'AAE=', { n: -0.000001, big: 1e21, int: 9007199254740991 }],
  ['8', null, null, null, null, null, null, null, null, null, null, null, null],
  ['9', 'w', 9, '9', '123456789.123', 123456789.12345679, true, '2024-02-29', '2026-01-02T00:00:00.001', '2026-01-02T00:00:00.000100', '123e4567-e89b-12d3-a456-426614174004', 'AQID', { s: 'a string' }],
  ['10', 'v', 10, '10', '-0.0001', -123.456, false, '2024-02-29', '2026-01-02T00:00:00', '2026-01-02T00:00:00', '123e4567-e89b-12d3-a456-426614174005', 'AQID', { k: 1 }]
]

const NOBIN_ROWS = EVERY_ROWS.map((row) => row.filter((_, i) => i !== 11))

/** The extractor's hashes of wire rows (in key order), as one buffer. */
function hashesOf (stream: StreamConfig, rows: readonly (readonly unknown[])[]): Buffer {
  const columns = hashColumnsOf(stream)
  const hashes = Buffer.alloc(rows.length * ROW_HASH_BYTES)
  rows.forEach((row, i) => { rowHash(columns, row).copy(hashes, i * ROW_HASH_BYTES) })
  return hashes
}

const names = busNames('t_compare_range')
const decode = createBatchDecoder(config, names)

function batchHeaders (stream: string, loadId: number, batch: number): { get (name: string): string } {
  const h = natsHeaders()
  h.set(BatchHeaders.Stream, stream)
  h.set(BatchHeaders.Load, String(loadId))
  h.set(BatchHeaders.Batch, String(batch))
  h.set(BatchHeaders.Mode, 'full')
  return h
}

async function setup (t: Parameters<typeof testDatabase>[0]) {
  const { url, sql } = await testDatabase(t)
  const db = createDb(url, { poolSize: 2 })
  t.teardown(() => db.destroy())
  await migrate(db, config)
  const rows = async (query: string): Promise<Record<string, unknown>[]> => (await sql.query(query) as unknown as [Record<string, unknown>[]])[0]
  const exec = async (query: string): Promise<void> => { await sql.query(query) }
  /**
   * Writes wire rows through the persister's own applyBatch: stamp = loadId. `bus`: as a batch
   * from the bus — the extractor's JSON payload through the persister's decoder (its transcoder
   * writes the values from the payload's text); `code`: the values as built here.
   */
  let batchNo = 0
  const apply = async (stream: StreamConfig, loadId: number, rows: unknown[][], via: 'code' | 'bus' = 'code'): Promise<'rendered' | 'body'> => {
    const body = { columns: stream.columns.map((c) => c.name), rows }
    const batch = batchNo++
    const decoded = via === 'code'
      ? { loadId, batch, mode: 'full' as const, body }
      : decode({ subject: names.batchSubject(stream.name), data: Buffer.from(JSON.stringify(body), 'utf8'), headers: batchHeaders(stream.name, loadId, batch) })
    const result = await applyBatch(db, stream, decoded)
    if (result.status !== 'applied') throw new Error(`batch not applied: ${result.status}`)
    return 'rendered' in decoded ? 'rendered' : 'body'
  }
  const stamps = async (table: string, key = 'id'): Promise<Record<string, number | null>> =>
    Object.fromEntries((await rows(`SELECT ${key} AS k, _sisporta_load AS s FROM ${table} ORDER BY ${key}`)).map((r) => [String(r.k), r.s === null ? null : Number(r.s)]))
  return { db, rows, exec, apply, stamps }
}

/** The round trip of every wire type, by each way a batch reaches MySQL. */
const ROUND_TRIPS = [
  { stream: every, rows: EVERY_ROWS, via: 'code', path: 'body', how: 'values built in code' },
  { stream: every, rows: EVERY_ROWS, via: 'bus', path: 'body', how: 'a bus payload, general path (parsed, json as its raw text)' },
  { stream: nobin, rows: NOBIN_ROWS, via: 'bus', path: 'rendered', how: 'a bus payload, transcoder (SQL from the payload bytes)' }
] as const

for (const { stream, rows, via, path, how } of ROUND_TRIPS) {
  t.test(`compare range – every wire type written by applyBatch (${how}) hashes back to the source row's hash: nothing to send`, async (t) => {
    const s = await setup(t)
    const table = stream.target.table
    t.equal(await s.apply(stream, 7, [...rows], via), path, `written by the ${path === 'rendered' ? 'transcoder' : 'general path'}`)
    // value by value first, so a type that does not round-trip is named with both spellings
    const columns = hashColumnsOf(stream)
    const target = (await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(table)} ORDER BY id`.execute(s.db)).rows // the persister's pool, as compareRange reads
    t.equal(target.length, rows.length)
    target.forEach((row, r) => {
      stream.columns.forEach((c, i) => {
        const sent = rows[r]![i]
        const stored = row[c.name]
        const source = canonicalValue(columns[i]!, sent)
        const back = canonicalValue(columns[i]!, targetWireValue(c.type, stored))
        t.not(source, undefined, `row ${r}, ${c.name} (${c.type}): the source value ${JSON.stringify(sent)} has a canonical form`)
        t.equal(back, source, `row ${r}, ${c.name} (${c.type}): sent ${JSON.stringify(sent)}, read back ${JSON.stringify(Buffer.isBuffer(stored) ? stored.toString('base64') : stored)}`)
      })
    })
    const reply = await compareRange(s.db, stream, { lo: null, hi: null, hashes: hashesOf(stream, rows) })
    t.same(reply, { send: [], targetRows: rows.length, unmatched: 0, unmatchedKeys: [], marked: 0 }, 'every row matched')
    const asLoad = await compareRange(s.db, stream, { loadId: 8, lo: null, hi: null, hashes: hashesOf(stream, rows) })
    t.same(asLoad, { send: [], targetRows: rows.length, unmatched: 0, unmatchedKeys: [], marked: 0 }, 'a diffed load marks nothing')
    t.same(Object.values(await s.stamps(table)), rows.map(() => 7), 'stamps untouched')
  })
}

t.test('compare range – json scalars (string, number, boolean) round-trip too', async (t) => {
  const s = await setup(t)
  const docs: unknown[] = ['hello', '{"a":1}', '5', 5, 1.5, -0.25, true, false, '', 'é 😀', 'a "quoted" \\ back\nslash']
  const rows = docs.map((doc, i) => [String(i + 1), null, null, null, null, null, null, null, null, null, null, null, doc])
  await s.apply(every, 7, rows.slice(0, 5), 'bus')
  await s.apply(every, 7, rows.slice(5), 'code')
  const reply = await compareRange(s.db, every, { lo: null, hi: null, hashes: hashesOf(every, rows) })
  t.same(reply.send, [], `every json value matched (sent: ${reply.send.map((i) => JSON.stringify(docs[i])).join(', ')})`)
  t.equal(reply.unmatched, 0)
})

t.test('compare range – a json value that changed its JSON type is not taken as equal', async (t) => {
  const s = await setup(t)
  // the target holds the object {"a":1} and the number 5; the source now has the strings '{"a":1}' and '5'
  await s.apply(every, 7, [
    ['1', null, null, null, null, null, null, null, null, null, null, null, { a: 1 }],
    ['2', null, null, null, null, null, null, null, null, null, null, null, 5]
  ])
  const source = [
    ['1', null, null, null, null, null, null, null, null, null, null, null, '{"a":1}'],
    ['2', null, null, null, null, null, null, null, null, null, null, null, '5']
  ]
  const reply = await compareRange(s.db, every, { lo: null, hi: null, hashes: hashesOf(every, source) })
  t.same(reply.send, [0, 1], 'both rows are sent')
  t.equal(reply.unmatched, 2)
})

t.test('compare range – edited, deleted, extra and unstamped target rows; marks only for a load, never over a newer stamp', async (t) => {
  const s = await setup(t)
  await s.apply(every, 7, EVERY_ROWS)
  await s.exec("UPDATE every SET s = 'edited behind sisporta''s back' WHERE id = 4")
  await s.exec('DELETE FROM every WHERE id = 6')
  await s.exec('UPDATE every SET _sisporta_load = NULL WHERE id = 8') // equal in content, but no load wrote it
  await s.exec("INSERT INTO every (id, s, _sisporta_load) VALUES (100, 'extra', 7), (101, 'newer', 12), (102, 'same load', 9)")
  const hashes = hashesOf(every, EVERY_ROWS)
  const before = await s.stamps('every')

  const verify = await compareRange(s.db, every, { lo: null, hi: null, hashes })
  t.same(verify, {
    send: [3, 5, 7], // ids 4 (edited), 6 (deleted), 8 (unstamped)
    targetRows: 12,
    unmatched: 5, // 4, 8, 100, 101, 102
    unmatchedKeys: [['4'], ['8'], ['100'], ['101'], ['102']],
    marked: 0
  })
  t.same(await s.stamps('every'), before, 'without a load nothing is written')

  const load = await compareRange(s.db, every, { loadId: 9, lo: null, hi: null, hashes })
  t.same({ ...load, marked: undefined }, { ...verify, marked: undefined }, 'the same comparison')
  t.equal(load.marked, 3, 'ids 4, 8 and 100 marked')
  t.same(await s.stamps('every'), { ...before, 4: -9, 8: -9, 100: -9 }, 'the unmatched rows older than the load carry −loadId; 101 (load 12) and 102 (load 9 itself) keep theirs')

  // asked again (a retry): the same marks; a row marked absent is never taken as equal
  const again = await compareRange(s.db, every, { loadId: 9, lo: null, hi: null, hashes })
  t.same(again.send, [3, 5, 7])
  t.same(await s.stamps('every'), { ...before, 4: -9, 8: -9, 100: -9 })
})

t.test('compare range – a marked row (negative stamp) equal in content is not matched', async (t) => {
  const s = await setup(t)
  await s.apply(every, 7, EVERY_ROWS)
  await s.exec('UPDATE every SET _sisporta_load = -6 WHERE id = 2')
  const reply = await compareRange(s.db, every, { lo: null, hi: null, hashes: hashesOf(every, EVERY_ROWS) })
  t.same(reply.send, [1])
  t.same(reply.unmatchedKeys, [['2']])
})

t.test('compare range – bounds: lo exclusive, hi inclusive, null unbounded', async (t) => {
  const s = await setup(t)
  await s.apply(every, 7, EVERY_ROWS)
  const slice = (from: number, to: number): Buffer => hashesOf(every, EVERY_ROWS.filter((r) => Number(r[0]) >= from && Number(r[0]) <= to))
  t.same(await compareRange(s.db, every, { lo: ['3'], hi: ['7'], hashes: slice(4, 7) }), { send: [], targetRows: 4, unmatched: 0, unmatchedKeys: [], marked: 0 }, '3 < id ≤ 7')
  t.same((await compareRange(s.db, every, { lo: ['3'], hi: ['7'], hashes: slice(3, 7) })).send, [0], 'id 3 is not in the range: its source row is sent')
  t.same((await compareRange(s.db, every, { lo: ['3'], hi: ['7'], hashes: slice(4, 8) })).send, [4], 'id 8 is not in the range')
  t.same(await compareRange(s.db, every, { lo: null, hi: ['2'], hashes: slice(1, 2) }), { send: [], targetRows: 2, unmatched: 0, unmatchedKeys: [], marked: 0 }, 'unbounded below')
  t.same(await compareRange(s.db, every, { lo: ['8'], hi: null, hashes: slice(9, 10) }), { send: [], targetRows: 2, unmatched: 0, unmatchedKeys: [], marked: 0 }, 'unbounded above')
  t.same(await compareRange(s.db, every, { lo: ['8'], hi: null, hashes: Buffer.alloc(0) }), { send: [], targetRows: 2, unmatched: 2, unmatchedKeys: [['9'], ['10']], marked: 0 }, 'the final range: target rows past the source\'s end')
  t.same(await compareRange(s.db, every, { lo: ['2'], hi: ['2'], hashes: Buffer.alloc(0) }), { send: [], targetRows: 0, unmatched: 0, unmatchedKeys: [], marked: 0 }, 'an empty range')
  await t.rejects(compareRange(s.db, every, { lo: null, hi: null, hashes: Buffer.alloc(7) }), { code: 'SIS_PERSIST_COMPARE_INVALID' })
  await t.rejects(compareRange(s.db, every, { lo: ['1', '2'], hi: null, hashes: Buffer.alloc(0) }), { code: 'SIS_PERSIST_COMPARE_INVALID', message: /the range's lo has 2 key values, the key has 1 columns/ })
})

t.test('compare range – a composite key: lexicographic bounds, lo exclusive and hi inclusive', async (t) => {
  const s = await setup(t)
  const rows = [['a', 0, 'a0'], ['a', 1, 'a1'], ['a', 2, 'a2'], ['aa', 0, 'aa0'], ['b', 0, 'b0'], ['b', 1, 'b1'], ['b', 2, 'b2'], ['c', -5, 'c']]
  await s.apply(pairs, 3, rows)
  t.same(await compareRange(s.db, pairs, { lo: null, hi: null, hashes: hashesOf(pairs, rows) }), { send: [], targetRows: 8, unmatched: 0, unmatchedKeys: [], marked: 0 }, 'the whole table round-trips')
  const inRange = [['a', 2, 'a2'], ['aa', 0, 'aa0'], ['b', 0, 'b0'], ['b', 1, 'b1']]
  t.same(await compareRange(s.db, pairs, { lo: ['a', 1], hi: ['b', 1], hashes: hashesOf(pairs, inRange) }), { send: [], targetRows: 4, unmatched: 0, unmatchedKeys: [], marked: 0 },
    "('a',1) < key ≤ ('b',1): (a,2), (aa,0), (b,0), (b,1)")
  t.same(await compareRange(s.db, pairs, { lo: ['a', 1], hi: ['b', 1], hashes: Buffer.alloc(0) }), { send: [], targetRows: 4, unmatched: 4, unmatchedKeys: [['a', 2], ['aa', 0], ['b', 0], ['b', 1]], marked: 0 }, 'the keys as wire values, in key order')
  t.same((await compareRange(s.db, pairs, { lo: ['a', 1], hi: ['b', 1], hashes: hashesOf(pairs, [['a', 1, 'a1'], ...inRange, ['b', 2, 'b2']]) })).send, [0, 5], 'the bounds\' neighbours are outside')
  t.same((await compareRange(s.db, pairs, { lo: ['a', 1], hi: ['a', 2], hashes: hashesOf(pairs, [['a', 2, 'a2']]) })), { send: [], targetRows: 1, unmatched: 0, unmatchedKeys: [], marked: 0 }, 'a range within one first-column value')
})

t.test(`compare range – more than ${COMPARE_CHUNK_ROWS} target rows: read in chunks, none skipped or read twice`, async (t) => {
  const s = await setup(t)
  const total = 12_000
  const rows = Array.from({ length: total }, (_, i) => [String(i + 1), `line ${i + 1}`])
  await s.apply(lines, 5, rows)
  const edited = [17, 5000, 5001, 9999, 10000, 10001, 11999]
  await s.exec(`UPDATE labels SET label = CONCAT(label, ' edited') WHERE id IN (${edited.join(', ')})`)
  const hashes = hashesOf(lines, rows)

  const reply = await compareRange(s.db, lines, { loadId: 6, lo: null, hi: null, hashes })
  t.same(reply.send, edited.map((id) => id - 1), 'the edited rows\' positions, in every chunk')
  t.equal(reply.targetRows, total, 'every row read once')
  t.equal(reply.unmatched, edited.length)
  t.same(reply.unmatchedKeys, edited.map((id) => [String(id)]))
  t.equal(reply.marked, edited.length)
  const marked = await s.rows('SELECT id FROM labels WHERE _sisporta_load = -6 ORDER BY id')
  t.same(marked.map((r) => Number(r.id)), edited, 'exactly the edited rows are marked')

  const bounded = await compareRange(s.db, lines, { lo: ['100'], hi: ['11000'], hashes: hashesOf(lines, rows.slice(100, 11000)) })
  t.equal(bounded.targetRows, 10_900, '100 < id ≤ 11000 over three chunks')
  t.same(bounded.send, [5000, 5001, 9999, 10000, 10001, 11999].filter((id) => id <= 11000).map((id) => id - 101), 'positions within the range; 17 and 11999 outside it')
})

t.test('compare range – soft deletes: a soft-deleted target row is skipped, neither counted nor marked', async (t) => {
  const s = await setup(t)
  const rows = [[1, 'one'], [2, 'two'], [3, 'three'], [4, 'four'], [5, 'five']]
  await s.apply(softs, 4, rows)
  await s.exec('UPDATE softs SET _sisporta_deleted_at = NOW(6) WHERE id = 3')
  const without3 = rows.filter((r) => r[0] !== 3)
  t.same(await compareRange(s.db, softs, { loadId: 5, lo: null, hi: null, hashes: hashesOf(softs, without3) }), { send: [], targetRows: 4, unmatched: 0, unmatchedKeys: [], marked: 0 },
    'the source lost row 3: nothing to compare, nothing to mark')
  t.same(await s.stamps('softs'), { 1: 4, 2: 4, 3: 4, 4: 4, 5: 4 })
  t.same((await compareRange(s.db, softs, { loadId: 5, lo: null, hi: null, hashes: hashesOf(softs, rows) })).send, [2], 'row 3 back in the source: sent, which makes it live again')
})

t.test('compare range – doubles that mysql2\'s own text parser gets one unit wrong (632/7) still match their source', async (t) => {
  const s = await setup(t)
  const rows = Array.from({ length: 700 }, (_, i) => [String(i + 1), null, null, null, null, (i + 1) / 7, null, null, null, null, null, null, null])
  await s.apply(every, 7, rows, 'code')
  const direct = (await s.rows('SELECT id, f FROM every ORDER BY id')).filter((r, i) => r.f !== rows[i]![5]).length
  t.ok(direct > 0, `read as numbers by mysql2, ${direct} of 700 doubles come back one unit off (the reason the comparison reads them as text)`)
  const reply = await compareRange(s.db, every, { lo: null, hi: null, hashes: hashesOf(every, rows) })
  t.same({ send: reply.send.length, unmatched: reply.unmatched }, { send: 0, unmatched: 0 }, 'every row matched')
})
