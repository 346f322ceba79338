import t from 'tap'
import { createDb, migrate } from '@sisporta/db'
import { testDatabase } from '@sisporta/testkit'
import { applyBatch } from '../src/index.js'
import { ITEM_COLUMNS, config, itemRow, items, shorts } from './helpers.js'

async function setup (t: { teardown(fn: () => unknown): void }) {
  const { url, sql } = await testDatabase(t)
  const db = createDb(url, { poolSize: 2 })
  t.teardown(() => db.destroy())
  await migrate(db, config)
  return { db, sql }
}

async function rows (sql: { query: (q: string, v?: unknown[]) => Promise<[unknown, unknown]> }, query: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
  const [result] = await sql.query(query, values)
  return result as Record<string, unknown>[]
}

t.test('apply batch – every wire type lands exactly', async (t) => {
  const { db, sql } = await setup(t)
  const body = {
    columns: ITEM_COLUMNS,
    rows: [
      [1, 'A-1', 'Ação ç é ñ 🚀 日本', '9223372036854775807', '1234567890123456789012345678.1234567890', '123456789012345.6789', 0.1, true, '2024-02-29', '2024-02-29T23:59:59.123456', '123e4567-e89b-12d3-a456-426614174000', 'AAH/gA==', { a: [1, 'two', null], b: { ok: true }, n: 1.5 }],
      [2, 'B-2', '', '-9223372036854775808', '-0.0000000001', '-0.0001', -1.7976931348623157e308, false, '0001-01-01', '9999-12-31T23:59:59.999999', null, '', []],
      [3, 'C-3', null, null, null, null, null, null, null, null, null, null, null]
    ]
  }
  const result = await applyBatch(db, items, { loadId: 7, batch: 0, mode: 'full', body })
  t.same(result, { status: 'applied', rows: 3, statements: 1 })

  const got = await rows(sql, 'SELECT * FROM items ORDER BY id')
  t.equal(got.length, 3)
  t.same(got[0], {
    id: 1,
    code: 'A-1',
    name: 'Ação ç é ñ 🚀 日本',
    big: '9223372036854775807',
    amount: '1234567890123456789012345678.1234567890',
    price: '123456789012345.6789',
    ratio: 0.1,
    active: 1,
    born: '2024-02-29',
    changed: '2024-02-29 23:59:59.123456',
    guid: '123e4567-e89b-12d3-a456-426614174000',
    blob: Buffer.from([0, 1, 255, 128]),
    doc: { a: [1, 'two', null], b: { ok: true }, n: 1.5 },
    _sisporta_load: '7',
    _sisporta_deleted_at: null
  })
  const [[raw]] = await sql.query('SELECT CAST(doc AS CHAR) AS text FROM items WHERE id = 1') as unknown as [[{ text: string }]]
  t.same(JSON.parse(raw.text), { a: [1, 'two', null], b: { ok: true }, n: 1.5 }, 'json is stored as valid JSON text')
  t.same(got[1], {
    id: 2,
    code: 'B-2',
    name: '',
    big: '-9223372036854775808',
    amount: '-0.0000000001',
    price: '-0.0001',
    ratio: -1.7976931348623157e308,
    active: 0,
    born: '0001-01-01',
    changed: '9999-12-31 23:59:59.999999',
    guid: null,
    blob: Buffer.alloc(0),
    doc: [],
    _sisporta_load: '7',
    _sisporta_deleted_at: null
  })
  t.same(got[2], {
    id: 3, code: 'C-3', name: null, big: null, amount: null, price: null, ratio: null, active: null, born: null, changed: null, guid: null, blob: null, doc: null, _sisporta_load: '7', _sisporta_deleted_at: null
  }, 'nulls are NULL')

  t.same(await rows(sql, 'SELECT stream, load_id, batch_no, row_count FROM sisporta_batches'), [{ stream: 'items', load_id: '7', batch_no: 0, row_count: 3 }])
})

t.test('apply batch – replaying the same batch changes nothing', async (t) => {
  const { db, sql } = await setup(t)
  const batch = { loadId: 3, batch: 1, mode: 'full' as const, body: { columns: ITEM_COLUMNS, rows: [itemRow(1), itemRow(2)] } }
  t.equal((await applyBatch(db, items, batch)).status, 'applied')
  // Someone (a newer load, an operator) changes the row between the two deliveries.
  await sql.query("UPDATE items SET name = 'changed since', _sisporta_deleted_at = '2024-05-05 10:00:00' WHERE id = 1")
  const before = await rows(sql, 'SELECT * FROM items ORDER BY id')

  const replay = await applyBatch(db, items, batch)
  t.same(replay, { status: 'duplicate', rows: 2, statements: 0 })
  t.same(await rows(sql, 'SELECT * FROM items ORDER BY id'), before, 'values, stamps and soft-delete marks unchanged')
  t.equal((before[0] as { name: string }).name, 'changed since', 'the replay did not rewrite the row')
  t.same(await rows(sql, 'SELECT COUNT(*) AS n FROM sisporta_batches'), [{ n: 1 }])
})

t.test('apply batch – an older load never overwrites a newer one', async (t) => {
  const { db, sql } = await setup(t)
  await applyBatch(db, items, { loadId: 5, batch: 0, mode: 'incremental', body: { columns: ITEM_COLUMNS, rows: [itemRow(1, 'five'), itemRow(2, 'five')] } })
  // Load 3 commits after load 5 (another replica was slower): row 1 and 2 keep load 5's values; row 9 is new.
  const older = await applyBatch(db, items, { loadId: 3, batch: 0, mode: 'incremental', body: { columns: ITEM_COLUMNS, rows: [itemRow(1, 'three'), [2, 'X', 'three', '1', '1', '1', 1, true, '2000-01-01', '2000-01-01T00:00:00', null, null, null], itemRow(9, 'three')] } })
  t.equal(older.status, 'applied')
  const got = await rows(sql, 'SELECT id, code, name, big, born, doc, _sisporta_load FROM items ORDER BY id')
  t.same(got, [
    { id: 1, code: 'C1', name: 'five', big: '1001', born: '2024-01-01', doc: { id: 1 }, _sisporta_load: '5' },
    { id: 2, code: 'C2', name: 'five', big: '1002', born: '2024-01-01', doc: { id: 2 }, _sisporta_load: '5' },
    { id: 9, code: 'C9', name: 'three', big: '1009', born: '2024-01-01', doc: { id: 9 }, _sisporta_load: '3' }
  ])

  // A newer load does overwrite, and brings a soft-deleted row back; an older one leaves the mark.
  await sql.query("UPDATE items SET _sisporta_deleted_at = '2024-05-05 10:00:00' WHERE id IN (1, 2)")
  await applyBatch(db, items, { loadId: 8, batch: 0, mode: 'full', body: { columns: ['id', 'name'], rows: [[1, 'eight']] } })
  await applyBatch(db, items, { loadId: 4, batch: 0, mode: 'full', body: { columns: ['id', 'name'], rows: [[2, 'four']] } })
  t.same(await rows(sql, 'SELECT id, code, name, _sisporta_load, _sisporta_deleted_at FROM items WHERE id IN (1, 2) ORDER BY id'), [
    { id: 1, code: 'C1', name: 'eight', _sisporta_load: '8', _sisporta_deleted_at: null },
    { id: 2, code: 'C2', name: 'five', _sisporta_load: '5', _sisporta_deleted_at: '2024-05-05 10:00:00.000000' }
  ], 'columns absent from a batch are left as they are')
})

t.test('apply batch – a row with no stamp yet is overwritten by any load', async (t) => {
  const { db, sql } = await setup(t)
  await sql.query("INSERT INTO shorts (id, label) VALUES (1, 'manual')")
  await applyBatch(db, shorts, { loadId: 1, batch: 0, mode: 'full', body: { columns: ['id', 'label'], rows: [[1, 'one']] } })
  t.same(await rows(sql, 'SELECT * FROM shorts'), [{ id: 1, label: 'one', _sisporta_load: '1' }])
})

t.test('apply batch – a large batch is split into several statements of one transaction', async (t) => {
  const { db, sql } = await setup(t)
  const many = Array.from({ length: 4500 }, (_, i) => itemRow(i + 1))
  const result = await applyBatch(db, items, { loadId: 1, batch: 0, mode: 'full', body: { columns: ITEM_COLUMNS, rows: many } })
  t.same(result, { status: 'applied', rows: 4500, statements: 3 }, 'at most 2,000 rows a statement')
  t.same(await rows(sql, 'SELECT COUNT(*) AS n, MIN(_sisporta_load) AS lo, MAX(_sisporta_load) AS hi FROM items'), [{ n: 4500, lo: '1', hi: '1' }])

  const few = await applyBatch(db, items, { loadId: 2, batch: 0, mode: 'full', body: { columns: ITEM_COLUMNS, rows: many.slice(0, 100) } }, { maxRows: 30 })
  t.equal(few.statements, 4, 'at most maxRows rows a statement (100 rows by 30)')
  const big = await applyBatch(db, items, { loadId: 3, batch: 0, mode: 'full', body: { columns: ['id', 'name'], rows: [[1, 'x'.repeat(3000)], [2, 'y'.repeat(3000)], [3, 'z']] } }, { maxBytes: 8000 })
  // (text is written as hex: 3,000 characters are over 6,000 bytes of SQL)
  t.equal(big.statements, 2, 'bytes are bounded too')
  t.same(await rows(sql, 'SELECT id, LENGTH(name) AS len FROM items WHERE id <= 3 ORDER BY id'), [{ id: 1, len: 3000 }, { id: 2, len: 3000 }, { id: 3, len: 1 }])
})

t.test('apply batch – a failing statement rolls back the whole batch, bookkeeping included', async (t) => {
  const { db, sql } = await setup(t)
  // a rule of the application's (a column narrower than the stream would be refused before writing)
  await sql.query("ALTER TABLE shorts ADD CONSTRAINT no_long_labels CHECK (CHAR_LENGTH(label) < 10)")
  const body = { columns: ['id', 'label'], rows: [[1, 'ok'], [2, 'fine'], [3, 'much too long']] }
  await t.rejects(applyBatch(db, shorts, { loadId: 1, batch: 0, mode: 'full', body }, { maxRows: 2 }), {
    code: 'SIS_PERSIST_REJECTED',
    message: /batch 0 of load 1 \(stream 'shorts'\): .*CONSTRAINT `no_long_labels` failed/
  })
  t.same(await rows(sql, 'SELECT COUNT(*) AS n FROM shorts'), [{ n: 0 }], 'the first statement was rolled back')
  t.same(await rows(sql, 'SELECT COUNT(*) AS n FROM sisporta_batches'), [{ n: 0 }], 'the batch is not booked: a retry applies it')
})

t.test('apply batch – a column the stream does not map is refused before MySQL', async (t) => {
  const { db } = await setup(t)
  await t.rejects(applyBatch(db, shorts, { loadId: 1, batch: 0, mode: 'full', body: { columns: ['id', 'nope'], rows: [[1, 'x']] } }), { code: 'SIS_PERSIST_BAD_BODY' })
})
