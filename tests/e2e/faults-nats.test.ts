import t from 'tap'
import { connect } from 'nats'
import { eventually, privateNatsServer } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'
import {
  FAULT_BATCH_SIZE, FAULT_CONFIG_YAML, FAULT_ENV, FAULT_EXTRACT_ARGS, FAULT_ROWS, FAULT_STREAM,
  expectLedger, fillFaultErp, metricValue, newestLoad, sourceRows
} from '../support/faults.js'

// Fault matrix: NATS killed with SIGKILL mid-load and restarted on the same port with the same
// JetStream store — a private nats-server, never the shared one. The kill is timed from the
// services' metrics (batches accepted by the gateway and applied by the persister, more to
// come); the restart waits until the gateway has refused a batch it could not store (the
// outage was felt). The load record, its open record, the batches not yet applied and the
// consumer's position all live in that store: the load completes with every batch booked once
// and the target mirrors the source only if they survived.

t.test('fault – NATS killed mid-load and restarted on the same store: every batch applied once', async (t) => {
  const batches = Math.ceil(FAULT_ROWS / FAULT_BATCH_SIZE)
  const nats = await privateNatsServer(t, { config: 'server_name: sisporta_faults\n' })
  const nc = await connect({ servers: nats.hostPort, maxReconnectAttempts: -1, reconnectTimeWait: 250 })
  const p = await startPipeline(t, {
    configYaml: FAULT_CONFIG_YAML,
    fillSource: async (sql) => { await fillFaultErp(sql) },
    env: { ...FAULT_ENV },
    natsUrl: `nats://${nats.hostPort}`,
    nc
  })
  const rows = await sourceRows(p.source)
  const gateway = p.services.get('gateway')!
  const persister = p.services.get('persister')!
  const extract = p.extract(FAULT_STREAM, FAULT_EXTRACT_ARGS)

  const killAt = Math.ceil(batches / 10)
  const atKill = await eventually(async () => {
    const accepted = await metricValue(gateway.url, 'sisporta_gateway_batches_accepted_total', { stream: FAULT_STREAM })
    const applied = await metricValue(persister.url, 'sisporta_persister_batches_applied_total', { stream: FAULT_STREAM })
    return accepted >= killAt && applied >= 1 ? { accepted, applied } : undefined
  }, { intervalMs: 10, timeoutMs: 120_000, what: `the gateway to accept ${killAt} batches and the persister to apply some` })
  await nats.kill()
  t.ok(atKill.accepted < batches, `NATS killed mid-load: ${atKill.accepted} of ${batches} batches accepted, ${atKill.applied} applied`)

  const refused = await eventually(async () => {
    const n = await metricValue(gateway.url, 'sisporta_gateway_batches_rejected_total', { code: 'SIS_GW_BUS_UNAVAILABLE' })
    return n >= 1 ? n : undefined
  }, { timeoutMs: 120_000, what: 'the gateway to refuse a batch JetStream could not store (SIS_GW_BUS_UNAVAILABLE)' })
  t.ok(refused >= 1, `the gateway refused ${refused} batch request(s) with 503 while NATS was down: nothing accepted that was not stored`)
  await nats.restart()

  const result = await extract
  t.equal(result.code, 0, 'extract --wait exits 0: the load is applied and reconciled', { stdout: result.stdout.slice(-3000), stderr: result.stderr.slice(-3000) })
  const load = (await newestLoad(p))!
  t.equal(load.state, 'reconciled', `load ${load.id} is reconciled`)
  t.equal(await metricValue(persister.url, 'sisporta_persister_batches_dead_lettered_total'), 0, 'no batch was dead-lettered')
  await expectLedger(t, p.target, load, rows)
  await p.expectMirror(t)
})
