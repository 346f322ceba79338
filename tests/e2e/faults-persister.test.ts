import t from 'tap'
import { nanos } from 'nats'
import { eventually } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'
import {
  FAULT_BATCH_SIZE, FAULT_CONFIG_YAML, FAULT_ENV, FAULT_EXTRACT_ARGS, FAULT_LOAD_TIMEOUT_MS, FAULT_ROWS, FAULT_STREAM,
  bookedBatches, expectLedger, fillFaultErp, loadOf, metricValue, sourceRows, watchLog
} from '../support/faults.js'

// Fault matrix: a persister killed after its commit and before its ack. The test-only hook
// SISPORTA_TEST_PAUSE_BEFORE_ACK makes the persister hold one batch in exactly that window (it
// logs when it does); the test kills it there with SIGKILL. JetStream redelivers the batch to
// the restarted persister, which must find it booked and ack it without writing: the duplicate
// counter rises, the load completes, every batch is booked once and the target mirrors the source.

t.test('fault – persister killed after its commit and before its ack: the redelivery is a duplicate, every batch applied once', async (t) => {
  const batches = Math.ceil(FAULT_ROWS / FAULT_BATCH_SIZE)
  const held = Math.floor(batches / 3)
  const p = await startPipeline(t, {
    configYaml: FAULT_CONFIG_YAML,
    fillSource: async (sql) => { await fillFaultErp(sql) },
    env: { ...FAULT_ENV },
    serviceEnv: { persister: { SISPORTA_TEST_PAUSE_BEFORE_ACK: String(held) } }
  })
  const rows = await sourceRows(p.source)
  const log = watchLog(p, 'persister', { fromStart: true })
  const extract = p.extract(FAULT_STREAM, FAULT_EXTRACT_ARGS)

  const [hold] = await log.until((l) => l.testHook === 'SISPORTA_TEST_PAUSE_BEFORE_ACK' && l.loadId !== undefined, `the persister holding batch ${held} between its commit and its ack`)
  const loadId = Number(hold!.loadId)
  t.equal(hold!.batch, held, `the persister holds batch ${held} of load ${loadId}`)
  const booked = await bookedBatches(p.target, loadId)
  t.ok(booked.some((b) => b.batch === held), `batch ${held} is committed: booked in the target, its rows with it (${booked.length} of ${batches} batches booked)`)
  t.ok(booked.length < batches, 'the load is still going on')
  await p.services.get('persister')!.kill()

  // JetStream hands a dead consumer's unacknowledged batches out again once ack_wait (60 s)
  // passed since their last sign of progress. The test shortens that wait instead of sitting
  // through it, as an operator may (`nats consumer edit`): ack wait is the operator's setting,
  // so the restarted persister's provisioning leaves the 1 s on this test's consumer.
  const jsm = await p.nc.jetstreamManager()
  await jsm.consumers.update(p.names.batchStream, p.names.persisterConsumer, { ack_wait: nanos(1000) })
  const restartedLog = watchLog(p, 'persister')
  const persister = await p.start('persister', { SISPORTA_TEST_PAUSE_BEFORE_ACK: '' })

  const result = await extract
  t.equal(result.code, 0, 'extract --wait exits 0: the load is applied and reconciled', { stdout: result.stdout.slice(-3000), stderr: result.stderr.slice(-3000) })
  const [duplicate] = await restartedLog.until((l) => l.msg === 'batch already applied (redelivery); acked without writing' && l.loadId === loadId && l.batch === held,
    `the restarted persister finding batch ${held} of load ${loadId} already applied`, { timeoutMs: 150_000 })
  t.ok(Number(duplicate!.deliveries) >= 2, `batch ${held} came back as a redelivery (delivery ${String(duplicate!.deliveries)}) and was acked without writing`)
  const duplicates = await eventually(async () => {
    const n = await metricValue(persister.url, 'sisporta_persister_batches_duplicate_total', { stream: FAULT_STREAM })
    return n >= 1 ? n : undefined
  }, { timeoutMs: FAULT_LOAD_TIMEOUT_MS, what: 'sisporta_persister_batches_duplicate_total to rise' })
  t.ok(duplicates >= 1, `sisporta_persister_batches_duplicate_total rose to ${duplicates}`)
  t.equal(await metricValue(persister.url, 'sisporta_persister_batches_dead_lettered_total'), 0, 'no batch was dead-lettered')
  t.equal(restartedLog.matching((l) => l.testHook !== undefined).length, 0, 'the restarted persister runs without the test hook')

  const load = (await loadOf(p, loadId))!
  t.equal(load.state, 'reconciled', `load ${loadId} is reconciled`)
  await expectLedger(t, p.target, load, rows)
  await p.expectMirror(t)
})
