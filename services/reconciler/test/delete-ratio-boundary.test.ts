import t from 'tap'
import { reconcileLoad } from '@sisporta/reconciler'
import { countRows, insertRows, recordBatches, rowsOf, sealedLoad, setup } from './setup.js'

// The delete guard pinned at its boundary: a full load may delete exactly `maxDeleteRatio` of
// the table; one row more and it is held. For `hard` (products, 0.2) and `soft` (customers, 0.5)
// deletes; `none` (notes) never deletes, whatever the share.

/** A full load that sent `sent` rows of a table that also holds `old` rows of an older load. */
async function fullLoad (env: Awaited<ReturnType<typeof setup>>, stream: string, sent: number, old: number) {
  const load = await sealedLoad(env.registry, stream, 'full', { batches: 1, rows: sent })
  await insertRows(env.sql, stream, [...rowsOf('sent', sent, load.id), ...rowsOf('old', old, 0)])
  await recordBatches(env.sql, stream, load.id, { 0: sent })
  return load
}

t.test('delete guard – hard deletes: exactly maxDeleteRatio of the table (200 of 1000 at 0.2) is deleted', async (t) => {
  const env = await setup(t, { hardRatio: 0.2 })
  const load = await fullLoad(env, 'products', 800, 200)
  t.match(await reconcileLoad(env.deps, load), { state: 'reconciled', tableRows: 1000, absentRows: 200, deletedRows: 200 })
  t.equal(await countRows(env.sql, 'products'), 800, 'the load\'s 800 rows are left')
})

t.test('delete guard – hard deletes: one row above maxDeleteRatio (201 of 1000 at 0.2) is held, nothing deleted', async (t) => {
  const env = await setup(t, { hardRatio: 0.2 })
  const load = await fullLoad(env, 'products', 799, 201)
  t.match(await reconcileLoad(env.deps, load), { state: 'held', tableRows: 1000, absentRows: 201 })
  t.equal(await countRows(env.sql, 'products'), 1000, 'nothing deleted')
})

t.test('delete guard – soft deletes: exactly maxDeleteRatio (50 of 100 at 0.5) is soft-deleted, one row more is held', async (t) => {
  const env = await setup(t)
  const at = await fullLoad(env, 'customers', 50, 50)
  t.match(await reconcileLoad(env.deps, at), { state: 'reconciled', tableRows: 100, absentRows: 50, deletedRows: 50 })
  t.equal(await countRows(env.sql, 'customers', '_sisporta_deleted_at IS NOT NULL'), 50, 'the 50 absent rows are marked deleted')
  t.equal(await countRows(env.sql, 'customers', "_sisporta_deleted_at IS NULL AND sku LIKE 'sent-%'"), 50, 'the load\'s rows are live')

  const envAbove = await setup(t)
  const above = await fullLoad(envAbove, 'customers', 49, 51)
  t.match(await reconcileLoad(envAbove.deps, above), { state: 'held', tableRows: 100, absentRows: 51 })
  t.equal(await countRows(envAbove.sql, 'customers', '_sisporta_deleted_at IS NOT NULL'), 0, 'nothing marked deleted')
})

t.test('delete guard – deletes: none keeps every absent row, however many', async (t) => {
  const env = await setup(t)
  const load = await fullLoad(env, 'notes', 1, 999)
  t.match(await reconcileLoad(env.deps, load), { state: 'reconciled', deletedRows: 0 })
  t.equal(await countRows(env.sql, 'notes'), 1000, 'nothing deleted')
})
