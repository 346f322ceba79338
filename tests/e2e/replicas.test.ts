import t, { type Test } from 'tap'
import type { Connection } from 'mysql2/promise'
import { changeDemoErp, createDemoErp, demoConfigYaml } from '@sisporta/cli'
import { startPipeline, type Pipeline } from '../support/pipeline.js'

// Persister replicas share one durable consumer: with two, then three of them as separate
// processes, full loads of small batches land exactly (the independent mirror check), every
// batch is booked once, and every replica did part of the work (else the test would prove
// nothing about replicas).
const SIZE = { products: 300, customers: 120 }

async function fill (sql: Connection): Promise<void> {
  await createDemoErp(sql, SIZE)
}

/** Batches a persister replica committed, from its own /metrics. */
async function appliedBy (p: Pipeline, replica: string): Promise<number> {
  const text = await (await fetch(`${p.services.get(replica)!.url}/metrics`)).text()
  return [...text.matchAll(/^sisporta_persister_batches_applied_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0)
}

/** Every stream's newest load: reconciled, and its batches each booked exactly once, with the seal's rows. */
async function expectLedger (t: Test, p: Pipeline): Promise<void> {
  for (const stream of p.config.streams) {
    const load = (await p.loads(stream.name)).at(-1)!
    t.equal(load.state, 'reconciled', `${stream.name}: load ${load.id} reconciled`)
    const [rows] = await p.target.query('SELECT COUNT(*) AS batches, COUNT(DISTINCT batch_no) AS distinct_batches, MIN(batch_no) AS first, MAX(batch_no) AS last, SUM(row_count) AS n FROM sisporta_batches WHERE stream = ? AND load_id = ?', [stream.name, load.id]) as unknown as [{ batches: string, distinct_batches: string, first: number, last: number, n: string }[]]
    const ledger = rows[0]!
    t.same({ batches: Number(ledger.batches), distinct: Number(ledger.distinct_batches), first: ledger.first, last: ledger.last, rows: Number(ledger.n) },
      { batches: load.batches, distinct: load.batches, first: 0, last: load.batches! - 1, rows: load.rows }, `${stream.name}: batches 0…${load.batches! - 1} booked once each, ${load.rows} rows`)
  }
}

// Every row sent (`--reload rows`): the replicas share every batch of every load; a diffed
// reload would send only the changed rows, too few batches for each replica to get some.
async function loadEverything (t: Test, p: Pipeline): Promise<void> {
  for (const stream of p.config.streams) {
    const result = await p.extract(stream.name, ['--reload', 'rows'])
    t.equal(result.code, 0, `extract ${stream.name} exits 0`, { stderr: result.stderr.slice(-2000) })
  }
}

t.test('replicas – two, then three persister processes share the batches and the target is an exact mirror', async (t) => {
  const p = await startPipeline(t, {
    configYaml: demoConfigYaml(),
    fillSource: fill,
    env: { SISPORTA_BATCH_SIZE: '10', SISPORTA_PERSISTER_CONCURRENCY: '2' }
  })
  await p.start('persister', {}, 'persister-2')

  await t.test('two replicas: a full load of every stream', async (t) => {
    await loadEverything(t, p)
    await p.expectMirror(t)
    await expectLedger(t, p)
    for (const replica of ['persister', 'persister-2']) t.ok(await appliedBy(p, replica) > 0, `${replica} applied some of the batches`)
  })

  await t.test('three replicas: a second full load with updates, inserts and deletes', async (t) => {
    await p.start('persister', {}, 'persister-3')
    const before = new Map<string, number>()
    for (const replica of ['persister', 'persister-2', 'persister-3']) before.set(replica, await appliedBy(p, replica))
    const changes = await changeDemoErp(p.source, SIZE)
    await loadEverything(t, p)
    await p.expectMirror(t)
    await expectLedger(t, p)
    t.equal((await p.loads('products')).at(-1)!.deletedRows, changes.products!.deleted, 'products: exactly the rows the ERP deleted are deleted')
    for (const [replica, applied] of before) t.ok(await appliedBy(p, replica) > applied, `${replica} applied some of the second load's batches`)
  })
})
