import t from 'tap'
import { deleteAbsentRows, reconcileLoad } from '@sisporta/reconciler'
import { countRows, insertRows, recordBatches, rowsOf, setup, skus } from './setup.js'

/**
 * The delete budget: a full load never deletes more rows than the delete guard counted (or the
 * operator approved), whatever matches the delete predicate by the time the deletes run.
 */

t.test('delete budget – at most maxRows rows, in chunks, hard and soft; budgetReached says rows were left', async (t) => {
  const { sql, db } = await setup(t)
  await insertRows(sql, 'products', rowsOf('old', 7, 3))
  await insertRows(sql, 'customers', rowsOf('old', 7, 3))
  const hard = { table: 'products', deletes: 'hard' } as const
  t.same(await deleteAbsentRows(db, hard, { loadId: 9, chunk: 2, maxRows: 5 }), { deletedRows: 5, chunks: 3, completed: true, budgetReached: true }, 'chunks of 2, 2 and the budget\'s last 1')
  t.equal(await countRows(sql, 'products'), 2, 'two absent rows left alone')
  t.same(await deleteAbsentRows(db, hard, { loadId: 9, chunk: 100, maxRows: 5 }), { deletedRows: 2, chunks: 1, completed: true }, 'under the budget: every absent row, budget not reached')
  const soft = { table: 'customers', deletes: 'soft' } as const
  t.same(await deleteAbsentRows(db, soft, { loadId: 9, chunk: 100, maxRows: 3 }), { deletedRows: 3, chunks: 1, completed: true, budgetReached: true })
  t.equal((await skus(sql, 'customers', '_sisporta_deleted_at IS NULL')).length, 4, 'soft: three marked deleted, four left live')
  t.same(await deleteAbsentRows(db, soft, { loadId: 9, chunk: 100, maxRows: 0 }), { deletedRows: 0, chunks: 0, completed: true, budgetReached: false }, 'a budget of 0 deletes nothing')
})

t.test('delete budget – an approved load deletes no more than the rows it was held for', async (t) => {
  const env = await setup(t) // products: hard deletes, maxDeleteRatio 0.2
  const older = await env.registry.openLoad({ stream: 'products', mode: 'full' })
  const opened = await env.registry.openLoad({ stream: 'products', mode: 'full' })
  const { load } = await env.registry.transition('products', opened.id, (l) => ({ ...l, state: 'sealed', sealedAt: new Date().toISOString(), batches: 1, rows: 2 }))
  await insertRows(env.sql, 'products', [...rowsOf('sent', 2, load.id), ...rowsOf('gone', 3, older.id)])
  await recordBatches(env.sql, 'products', load.id, { 0: 2 })
  const held = await reconcileLoad(env.deps, load)
  t.match(held, { state: 'held', absentRows: 3, tableRows: 5 }, 'held: 3 of 5 rows would go')
  // rows arrive behind sisporta's back while the load waits for an operator
  await insertRows(env.sql, 'products', rowsOf('late', 4, null))
  const { load: approved } = await env.registry.transition('products', load.id, (l) => ({ ...l, state: 'approved', approvedBy: 'ops' }))
  const done = await reconcileLoad(env.deps, approved)
  t.match(done, { state: 'reconciled', deletedRows: 3 }, 'the 3 rows the operator approved, not the 7 that match now')
  t.equal(await countRows(env.sql, 'products'), 6, '2 sent + 4 left for the next load')
})
