import t from 'tap'
import { countAbsentRows, deleteAbsentRows, examineLoad, reconcileLoad } from '@sisporta/reconciler'
import { countRows, insertRows, recordBatches, rowsOf, sealedLoad, setup, skus } from './setup.js'

t.test('deletes – soft deletes mark absent rows instead of deleting them', async (t) => {
  const { registry, sql, deps } = await setup(t)
  const load = await sealedLoad(registry, 'customers', 'full', { batches: 1, rows: 3 })
  await insertRows(sql, 'customers', [['a', load.id], ['b', load.id], ['c', load.id], ['old', 0], ['unstamped', null], ['newer', load.id + 1], ['was-deleted', 0]])
  await sql.query("UPDATE customers SET _sisporta_deleted_at = '2020-01-01 00:00:00.000000' WHERE sku = 'was-deleted'")
  await recordBatches(sql, 'customers', load.id, { 0: 3 })
  t.match(await reconcileLoad(deps, load), { state: 'reconciled', tableRows: 6, absentRows: 2, deletedRows: 2 })
  t.equal(await countRows(sql, 'customers'), 7, 'no row removed')
  t.same(await skus(sql, 'customers', '_sisporta_deleted_at IS NULL'), ['a', 'b', 'c', 'newer'])
  t.same(await skus(sql, 'customers', "_sisporta_deleted_at > '2021-01-01'"), ['old', 'unstamped'])
  t.same(await skus(sql, 'customers', "_sisporta_deleted_at = '2020-01-01'"), ['was-deleted'], 'an earlier soft delete keeps its time')
})

t.test('deletes – deletes: none deletes nothing', async (t) => {
  const { registry, sql, deps } = await setup(t)
  const load = await sealedLoad(registry, 'notes', 'full', { batches: 1, rows: 1 })
  await insertRows(sql, 'notes', [['a', load.id], ['old', 0], ['unstamped', null]])
  await recordBatches(sql, 'notes', load.id, { 0: 1 })
  t.match(await reconcileLoad(deps, load), { state: 'reconciled', deletedRows: 0 })
  t.equal(await countRows(sql, 'notes'), 3)
})

t.test('deletes – 12,000 absent rows are deleted in chunks of 1000', async (t) => {
  const { registry, sql, deps, metrics } = await setup(t, { hardRatio: 1 })
  const load = await sealedLoad(registry, 'products', 'full', { batches: 1, rows: 10 })
  await insertRows(sql, 'products', [...rowsOf('old', 11_000, 0), ...rowsOf('null', 1000, null), ...rowsOf('this', 10, load.id)])
  await recordBatches(sql, 'products', load.id, { 0: 10 })
  t.match(await reconcileLoad(deps, load), { state: 'reconciled', tableRows: 12_010, absentRows: 12_000, deletedRows: 12_000 })
  t.equal(await countRows(sql, 'products'), 10)
  t.equal((await metrics.deletedRows.get()).values[0]?.value, 12_000)
})

t.test('delete absent rows – one statement per chunk, and stops once the load is no longer current', async (t) => {
  const { sql, db } = await setup(t)
  await insertRows(sql, 'products', [...rowsOf('old', 1000, 5), ...rowsOf('this', 10, 10)])
  let asked = 0
  const chunks: number[] = []
  const stopped = await deleteAbsentRows(db, { table: 'products', deletes: 'hard' }, {
    loadId: 10,
    chunk: 100,
    stillCurrent: async () => ++asked <= 3,
    onChunk: (n) => chunks.push(n)
  })
  t.same(stopped, { deletedRows: 300, chunks: 3, completed: false })
  t.same(chunks, [100, 100, 100])
  t.same(await countAbsentRows(db, { table: 'products', deletes: 'hard' }, 10), { tableRows: 710, absentRows: 700 })
  const rest = await deleteAbsentRows(db, { table: 'products', deletes: 'hard' }, { loadId: 10, chunk: 350 })
  t.same(rest, { deletedRows: 700, chunks: 3, completed: true }, 'idempotent: resuming deletes the rest')
  const again = await deleteAbsentRows(db, { table: 'products', deletes: 'hard' }, { loadId: 10, chunk: 350 })
  t.same(again, { deletedRows: 0, chunks: 1, completed: true })
  t.equal(await countRows(sql, 'products'), 10)
})

t.test('superseded – an older full load deletes nothing once a newer one is applied or reconciled', async (t) => {
  const { registry, sql, deps } = await setup(t, { hardRatio: 1 })
  const first = await sealedLoad(registry, 'products', 'full', { batches: 1, rows: 5 })
  const second = await sealedLoad(registry, 'products', 'full', { batches: 1, rows: 5 })
  await insertRows(sql, 'products', [...rowsOf('first', 1, first.id), ...rowsOf('both', 4, second.id), ...rowsOf('second', 1, second.id), ['old', 0]])
  await recordBatches(sql, 'products', first.id, { 0: 5 })
  await recordBatches(sql, 'products', second.id, { 0: 5 })
  t.equal((await examineLoad(deps, first))?.state, 'applied')
  t.equal((await examineLoad(deps, second))?.state, 'applied')
  t.match(await reconcileLoad(deps, second), { state: 'reconciled', deletedRows: 2 })
  const superseded = await reconcileLoad(deps, first)
  t.match(superseded, { state: 'superseded', reason: `load ${second.id}, a newer full load of this stream, is already reconciled; nothing deleted` })
  t.equal(superseded?.deletedRows, undefined)

  // an older load reaching applied after a newer one only applied: superseded, its absent rows left to the newer load
  const third = await sealedLoad(registry, 'products', 'full', { batches: 1, rows: 1 })
  const fourth = await sealedLoad(registry, 'products', 'full', { batches: 1, rows: 1 })
  await insertRows(sql, 'products', [['third', third.id], ['fourth', fourth.id]])
  await recordBatches(sql, 'products', third.id, { 0: 1 })
  await recordBatches(sql, 'products', fourth.id, { 0: 1 })
  t.equal((await examineLoad(deps, fourth))?.state, 'applied')
  t.match(await reconcileLoad(deps, third), { state: 'superseded', reason: /already applied; nothing deleted/ })
  t.equal(await countRows(sql, 'products'), 7, 'nothing deleted by the superseded load')
})

t.test('superseded – a load stops deleting before the next chunk once a newer load supersedes it', async (t) => {
  const { registry, sql, deps } = await setup(t, { hardRatio: 1, settings: { deleteChunk: 100 } })
  const load = await sealedLoad(registry, 'products', 'full', { batches: 1, rows: 1 })
  await insertRows(sql, 'products', [...rowsOf('old', 1000, 0), ['this', load.id]])
  await recordBatches(sql, 'products', load.id, { 0: 1 })
  let asked = 0
  const newer = { ...load, id: load.id + 1, state: 'reconciled' as const }
  const result = await reconcileLoad({ ...deps, findSupersedingLoad: () => ++asked > 3 ? newer : undefined }, load)
  // asked once before counting, then before each chunk: chunks 1 and 2 run, the 3rd is refused
  t.match(result, { state: 'superseded', deletedRows: 200, reason: `load ${newer.id}, a newer full load of this stream, is already reconciled; stopped after deleting 200 rows` })
  t.equal(await countRows(sql, 'products'), 801)
})

t.test('replicas – two reconcilers on one load delete the absent rows once and record one outcome', async (t) => {
  const { registry, sql, deps } = await setup(t, { hardRatio: 1, settings: { deleteChunk: 500 } })
  const load = await sealedLoad(registry, 'products', 'full', { batches: 1, rows: 100 })
  await insertRows(sql, 'products', [...rowsOf('old', 5000, 0), ...rowsOf('this', 100, load.id)])
  await recordBatches(sql, 'products', load.id, { 0: 100 })
  const results = await Promise.all([reconcileLoad(deps, load), reconcileLoad(deps, load), reconcileLoad(deps, load)])
  t.same(results.map((r) => r?.state), ['reconciled', 'reconciled', 'reconciled'], 'every caller sees the outcome')
  const final = (await registry.get('products', load.id))?.load
  t.equal(final?.state, 'reconciled')
  t.equal(await countRows(sql, 'products'), 100)
  t.same(await skus(sql, 'products', "sku NOT LIKE 'this-%'"), [])
})
