import t from 'tap'
import { eventually } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'
import {
  FAULT_BATCH_SIZE, FAULT_CONFIG_YAML, FAULT_ENV, FAULT_EXTRACT_ARGS, FAULT_ROWS, FAULT_STREAM,
  bookedBatches, expectLedger, fillFaultErp, loadOf, metricValue, newestLoad, sourceRows, spawnExtract
} from '../support/faults.js'

// Fault matrix: the extractor killed with SIGKILL mid-load, timed from the gateway's metrics (a
// tenth of the batches accepted). Killed, it cannot abandon its own load: the load stays open,
// never sealed, so it can delete nothing. The next extract opens a newer load of the stream, and
// the gateway abandons the older open one at once (one open load per stream) — with the default
// SISPORTA_OPEN_TIMEOUT of 6 h, nothing else could abandon it within this test. The next load
// completes: every batch booked once, the target mirrors the source.

t.test('fault – extractor killed mid-load: its load is abandoned, the next load completes', async (t) => {
  const batches = Math.ceil(FAULT_ROWS / FAULT_BATCH_SIZE)
  const p = await startPipeline(t, {
    configYaml: FAULT_CONFIG_YAML,
    fillSource: async (sql) => { await fillFaultErp(sql) },
    env: { ...FAULT_ENV }
  })
  const rows = await sourceRows(p.source)
  const gateway = p.services.get('gateway')!
  const killed = spawnExtract(p, FAULT_STREAM)

  const killAt = Math.ceil(batches / 10)
  const accepted = await eventually(async () => {
    const n = await metricValue(gateway.url, 'sisporta_gateway_batches_accepted_total', { stream: FAULT_STREAM })
    return n >= killAt ? n : undefined
  }, { intervalMs: 10, timeoutMs: 120_000, what: `the gateway to accept ${killAt} batches` })
  await killed.kill()
  const first = (await newestLoad(p))!
  t.equal(first.state, 'open', `killed mid-load (${accepted} of ${batches} batches accepted): load ${first.id} is open, never sealed`)
  t.equal(first.batches, undefined, 'it states no batch count: it can never be applied, so it deletes nothing')

  const result = await p.extract(FAULT_STREAM, FAULT_EXTRACT_ARGS)
  t.equal(result.code, 0, 'the next extract --wait exits 0: applied and reconciled', { stdout: result.stdout.slice(-3000), stderr: result.stderr.slice(-3000) })
  const abandoned = (await loadOf(p, first.id))!
  t.equal(abandoned.state, 'abandoned', `load ${first.id} of the killed extractor is abandoned`)
  const load = (await newestLoad(p))!
  t.ok(load.id > first.id, `a newer load (${load.id}) took over`)
  t.match(abandoned.reason, new RegExp(`load ${load.id}\\b`), 'the reason names the load that took over', { reason: abandoned.reason })
  t.equal(abandoned.deletedRows, undefined, 'the abandoned load deleted nothing')
  t.ok((await bookedBatches(p.target, first.id)).length < batches, 'the abandoned load never had all its batches')
  t.equal(load.state, 'reconciled', `load ${load.id} is reconciled`)
  await expectLedger(t, p.target, load, rows)
  await p.expectMirror(t)
})
