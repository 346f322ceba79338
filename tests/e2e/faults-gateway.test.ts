import t from 'tap'
import { eventually } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'
import {
  FAULT_BATCH_SIZE, FAULT_CONFIG_YAML, FAULT_ENV, FAULT_EXTRACT_ARGS, FAULT_ROWS, FAULT_STREAM,
  expectLedger, fillFaultErp, metricValue, newestLoad, parseLines, sourceRows
} from '../support/faults.js'

// Fault matrix: the gateway killed with SIGKILL while batches are being posted. The kill is timed
// from the gateway's own metrics: a tenth of the load's batches accepted (stored by JetStream,
// answered 202) and requests in progress. The extractor retries what got no answer, the
// restarted gateway publishes it under the same de-duplication id: the load completes with
// every batch booked once and the target mirrors the source.

t.test('fault – gateway killed while batches are being posted: the extractor retries, every batch applied once', async (t) => {
  const batches = Math.ceil(FAULT_ROWS / FAULT_BATCH_SIZE)
  const p = await startPipeline(t, {
    configYaml: FAULT_CONFIG_YAML,
    fillSource: async (sql) => { await fillFaultErp(sql) },
    env: { ...FAULT_ENV }
  })
  const rows = await sourceRows(p.source)
  const gateway = p.services.get('gateway')!
  const extract = p.extract(FAULT_STREAM, FAULT_EXTRACT_ARGS)

  const killAt = Math.ceil(batches / 10)
  const atKill = await eventually(async () => {
    const accepted = await metricValue(gateway.url, 'sisporta_gateway_batches_accepted_total', { stream: FAULT_STREAM })
    const inProgress = await metricValue(gateway.url, 'sisporta_gateway_batches_in_progress')
    return accepted >= killAt && inProgress >= 1 ? { accepted, inProgress } : undefined
  }, { intervalMs: 10, timeoutMs: 120_000, what: `the gateway to accept ${killAt} batches with more in progress` })
  await gateway.kill()
  t.ok(atKill.accepted < batches, `gateway killed mid-load: ${atKill.accepted} of ${batches} batches accepted, ${atKill.inProgress} in progress`)
  await p.start('gateway', { SISPORTA_HTTP_PORT: String(gateway.port) })

  const result = await extract
  t.equal(result.code, 0, 'extract --wait exits 0: the load is applied and reconciled', { stdout: result.stdout.slice(-3000), stderr: result.stderr.slice(-3000) })
  const retries = parseLines(result.stderr).filter((l) => l.msg === 'gateway request failed, retrying' && String(l.what).startsWith('batch '))
  t.ok(retries.length >= 1, `the extractor retried what the dead gateway did not answer (${retries.length} retries)`, { reasons: [...new Set(retries.map((r) => String(r.reason)))].slice(0, 5) })

  const load = (await newestLoad(p))!
  t.equal(load.state, 'reconciled', `load ${load.id} is reconciled`)
  await expectLedger(t, p.target, load, rows)
  await p.expectMirror(t)
})
