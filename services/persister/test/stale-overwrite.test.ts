import t from 'tap'
import { createDb, migrate } from '@sisporta/db'
import { testDatabase } from '@sisporta/testkit'
import { applyBatch } from '../src/index.js'
import { ITEM_COLUMNS, config, itemRow, items } from './helpers.js'

// No stale overwrite, by behaviour (what the target holds afterwards), not by the SQL's text:
// replicas commit batches in any order, so a batch of an older load may commit after one of a
// newer load; it must change nothing the newer load wrote. A later batch of the same load (a row
// read twice while the source changed under the pages) does rewrite its row.

async function setup (t: { teardown(fn: () => unknown): void }) {
  const { url, sql } = await testDatabase(t)
  const db = createDb(url, { poolSize: 2 })
  t.teardown(() => db.destroy())
  await migrate(db, config)
  const all = async (): Promise<Record<string, unknown>[]> => {
    const [rows] = await sql.query('SELECT *, HEX(`blob`) AS blob_hex FROM items ORDER BY id')
    return rows as Record<string, unknown>[]
  }
  return { db, sql, all }
}

/** Every column different from {@link itemRow}'s for the same id. */
function otherRow (id: number): unknown[] {
  return [id, `OTHER${id}`, `other ${id}`, '-1', '-1.5', '-1.25', -0.5, id % 2 !== 0, '1999-12-31', '1999-12-31T23:59:59.999999', '00000000-0000-4000-8000-000000000000', 'AAEC', { other: true }]
}

t.test('stale overwrite – an older load committed after a newer one changes no value, stamp or deletion mark', async (t) => {
  const { db, sql, all } = await setup(t)
  await applyBatch(db, items, { loadId: 5, batch: 0, mode: 'full', body: { columns: ITEM_COLUMNS, rows: [itemRow(1), itemRow(2)] } })
  await sql.query("UPDATE items SET _sisporta_deleted_at = '2024-05-05 10:00:00' WHERE id = 2")
  const before = await all()
  t.same(before.map((r) => [r.id, r.name, r._sisporta_load]), [[1, 'item 1', '5'], [2, 'item 2', '5']], 'load 5 wrote both rows')

  const older = await applyBatch(db, items, { loadId: 4, batch: 0, mode: 'full', body: { columns: ITEM_COLUMNS, rows: [otherRow(1), otherRow(2), otherRow(3)] } })
  t.equal(older.status, 'applied', 'the older batch is applied (and booked): it is not an error')
  const after = await all()
  t.same(after.slice(0, 2), before, 'rows 1 and 2 are exactly as load 5 left them: every column, the stamp, the deletion mark')
  t.match(after[2], { id: 3, name: 'other 3', _sisporta_load: '4' }, 'a row only the older load has is written')
})

t.test('stale overwrite – a later batch of the same load rewrites its own row', async (t) => {
  const { db, all } = await setup(t)
  await applyBatch(db, items, { loadId: 5, batch: 0, mode: 'full', body: { columns: ITEM_COLUMNS, rows: [itemRow(1)] } })
  await applyBatch(db, items, { loadId: 5, batch: 1, mode: 'full', body: { columns: ITEM_COLUMNS, rows: [otherRow(1)] } })
  t.match((await all())[0], { id: 1, code: 'OTHER1', name: 'other 1', big: '-1', price: '-1.2500', born: '1999-12-31', blob_hex: '000102', _sisporta_load: '5' })
})

t.test('stale overwrite – a newer load overwrites every column and brings a deleted row back', async (t) => {
  const { db, sql, all } = await setup(t)
  await applyBatch(db, items, { loadId: 5, batch: 0, mode: 'full', body: { columns: ITEM_COLUMNS, rows: [itemRow(1)] } })
  await sql.query("UPDATE items SET _sisporta_deleted_at = '2024-05-05 10:00:00' WHERE id = 1")
  await applyBatch(db, items, { loadId: 6, batch: 0, mode: 'full', body: { columns: ITEM_COLUMNS, rows: [otherRow(1)] } })
  t.match((await all())[0], { id: 1, code: 'OTHER1', name: 'other 1', guid: '00000000-0000-4000-8000-000000000000', _sisporta_load: '6', _sisporta_deleted_at: null })
})
