import t from 'tap'
import type { LoadRecord } from '@sisporta/contracts'
import { countAbsentRows, deleteAbsentRows, reconcileLoad } from '@sisporta/reconciler'
import { countRows, insertRows, recordBatches, rowsOf, setup, skus, type TestEnv } from './setup.js'

/**
 * What a full load deletes (absent-predicate.ts): a diffed load only the rows its comparisons
 * marked with its negative id; a load of rows every row stamped by an older load or never.
 */

/** The target as load 7 leaves it: older loads' rows, an unstamped one, marks of 7 and of an older diffed load 6, its own rows and a newer load's. */
const TABLE: ReadonlyArray<readonly [string, number | null]> = [
  ['stamped-3', 3], ['stamped-5', 5], ['unstamped', null], ['marked-7', -7], ['marked-6', -6], ['stamped-7', 7], ['stamped-8', 8]
]
const ALL = TABLE.map(([sku]) => sku).sort()

t.test('absent rows – a diffed load counts and hard-deletes only the rows marked with its negative id', async (t) => {
  const { sql, db } = await setup(t)
  await insertRows(sql, 'products', TABLE)
  const target = { table: 'products', deletes: 'hard' } as const
  t.same(await countAbsentRows(db, target, 7, 'diff'), { tableRows: 7, absentRows: 1 })
  t.same(await deleteAbsentRows(db, target, { loadId: 7, reload: 'diff', chunk: 100 }), { deletedRows: 1, chunks: 1, completed: true })
  t.same(await skus(sql, 'products'), ALL.filter((s) => s !== 'marked-7'), 'older stamps, NULL, the older mark −6 and newer rows are kept')
  t.same(await countAbsentRows(db, target, 7, 'diff'), { tableRows: 6, absentRows: 0 }, 'nothing left to delete')
})

t.test('absent rows – a diffed load soft-deletes only the rows marked with its negative id', async (t) => {
  const { sql, db } = await setup(t)
  await insertRows(sql, 'customers', [...TABLE, ['marked-7-gone', -7]])
  await sql.query("UPDATE customers SET _sisporta_deleted_at = '2020-01-01 00:00:00.000000' WHERE sku = 'marked-7-gone'")
  const target = { table: 'customers', deletes: 'soft' } as const
  t.same(await countAbsentRows(db, target, 7, 'diff'), { tableRows: 7, absentRows: 1 }, 'a row deleted already is not live')
  t.same(await deleteAbsentRows(db, target, { loadId: 7, reload: 'diff', chunk: 100 }), { deletedRows: 1, chunks: 1, completed: true })
  t.equal(await countRows(sql, 'customers'), 8, 'no row removed')
  t.same(await skus(sql, 'customers', '_sisporta_deleted_at IS NULL'), ALL.filter((s) => s !== 'marked-7'))
  t.same(await skus(sql, 'customers', "_sisporta_deleted_at > '2021-01-01'"), ['marked-7'])
  t.same(await skus(sql, 'customers', "_sisporta_deleted_at = '2020-01-01'"), ['marked-7-gone'], 'an earlier soft delete keeps its time')
})

t.test('absent rows – a load of rows (reload undefined) keeps the old predicate: stamped below its id, negative marks included, or never', async (t) => {
  const { sql, db } = await setup(t)
  await insertRows(sql, 'products', TABLE)
  await insertRows(sql, 'customers', TABLE)
  const hard = { table: 'products', deletes: 'hard' } as const
  t.same(await countAbsentRows(db, hard, 7), { tableRows: 7, absentRows: 5 })
  t.same(await countAbsentRows(db, hard, 7, undefined), { tableRows: 7, absentRows: 5 })
  t.same(await deleteAbsentRows(db, hard, { loadId: 7, reload: undefined, chunk: 100 }), { deletedRows: 5, chunks: 1, completed: true })
  t.same(await skus(sql, 'products'), ['stamped-7', 'stamped-8'])
  const soft = { table: 'customers', deletes: 'soft' } as const
  t.same(await deleteAbsentRows(db, soft, { loadId: 7, chunk: 100 }), { deletedRows: 5, chunks: 1, completed: true })
  t.same(await skus(sql, 'customers', '_sisporta_deleted_at IS NULL'), ['stamped-7', 'stamped-8'])
})

/** A full diffed load of `stream`, opened as the gateway opens one and sealed with the extractor's counts. */
async function sealedDiffedLoad (env: TestEnv, stream: string, counts: { batches: number, rows: number, comparedRows: number }): Promise<LoadRecord> {
  const opened = await env.registry.openLoad({ stream, mode: 'full', openedBy: 'test', reload: 'diff' })
  const { load } = await env.registry.transition(stream, opened.id, (l) => ({
    ...l, state: 'sealed', sealedAt: new Date().toISOString(), ...counts, comparedRanges: 1, equalRanges: 0
  }))
  return load
}

t.test('reconcile – a diffed load whose marks are above maxDeleteRatio is held with the marks as its absent rows; approved, it deletes only them', async (t) => {
  const env = await setup(t) // products: hard deletes, maxDeleteRatio 0.2
  const older = await env.registry.openLoad({ stream: 'products', mode: 'full' })
  const load = await sealedDiffedLoad(env, 'products', { batches: 1, rows: 1, comparedRows: 7 })
  // 6 rows found equal (older stamp), 1 sent, 3 marked: 3 of 10 is 30%
  await insertRows(env.sql, 'products', [...rowsOf('equal', 6, older.id), ['sent', load.id], ...rowsOf('marked', 3, -load.id)])
  await recordBatches(env.sql, 'products', load.id, { 0: 1 })
  const held = await reconcileLoad(env.deps, load)
  t.match(held, { state: 'held', reload: 'diff', tableRows: 10, absentRows: 3 })
  t.equal(await countRows(env.sql, 'products'), 10, 'nothing deleted')
  // what `sisporta loads approve` does
  const { load: approved } = await env.registry.transition('products', load.id, (l) => ({ ...l, state: 'approved', approvedBy: 'ops' }))
  t.match(await reconcileLoad(env.deps, approved), { state: 'reconciled', deletedRows: 3 })
  t.same(await skus(env.sql, 'products'), [...rowsOf('equal', 6, null).map(([s]) => s), 'sent'].sort(), 'the rows found equal keep their older stamp and stay')
})

t.test('reconcile – a diffed load whose marks are under maxDeleteRatio is reconciled with deletedRows = its marks', async (t) => {
  const env = await setup(t)
  const older = await env.registry.openLoad({ stream: 'products', mode: 'full' })
  const load = await sealedDiffedLoad(env, 'products', { batches: 1, rows: 2, comparedRows: 19 })
  // 17 equal, 2 sent, 1 marked: 1 of 20 (a load of rows would find 18 absent, 90%, and be held)
  await insertRows(env.sql, 'products', [...rowsOf('equal', 17, older.id), ...rowsOf('sent', 2, load.id), ['marked', -load.id]])
  await recordBatches(env.sql, 'products', load.id, { 0: 2 })
  t.match(await reconcileLoad(env.deps, load), { state: 'reconciled', reload: 'diff', tableRows: 20, absentRows: 1, deletedRows: 1 })
  t.equal(await countRows(env.sql, 'products'), 19)
  t.equal(await countRows(env.sql, 'products', "sku = 'marked'"), 0, 'the marked row is gone')
  t.equal(await countRows(env.sql, 'products', `_sisporta_load = ${older.id}`), 17, 'the rows found equal keep their older stamp')
})
