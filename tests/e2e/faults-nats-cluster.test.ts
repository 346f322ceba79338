import t, { type Test } from 'tap'
import { connect, type JetStreamManager } from 'nats'
import type { LoadRecord } from '@sisporta/contracts'
import { isBusUnavailable } from '@sisporta/nats'
import { eventually, natsCluster, type NatsCluster, type NatsClusterNode } from '@sisporta/testkit'
import { startPipeline, type Pipeline } from '../support/pipeline.js'
import {
  FAULT_BATCH_SIZE, FAULT_CONFIG_YAML, FAULT_ENV, FAULT_EXTRACT_ARGS, FAULT_LOAD_TIMEOUT_MS, FAULT_ROWS, FAULT_STREAM,
  expectLedger, fillFaultErp, metricValue, newestLoad, sourceRows, watchLog
} from '../support/faults.js'

// Highly available bus: a 3-node NATS cluster on loopback (private servers, never the shared
// one), the services connected to all three, SISPORTA_JETSTREAM_REPLICAS=3. A full load runs
// while the batch stream's LEADER is SIGKILLed; the test waits until the two survivors elected a
// new leader and the load moved on without the dead node (what R3 is for), then restarts it and
// waits for it to catch up. A second load runs while a FOLLOWER is SIGKILLed. Each load
// completes, every batch is booked exactly once, and the target mirrors the source. Every wait
// is for an event (meta leader, current replicas, metrics), never a sleep.

const REPLICAS = 3

/** The stream's leader now, once it has one that is not `not` (an election may be under way). */
async function leaderOf (jsm: JetStreamManager, stream: string, cluster: NatsCluster, not?: string): Promise<NatsClusterNode> {
  return await eventually(async () => {
    try {
      const leader = (await jsm.streams.info(stream)).cluster?.leader
      return leader !== undefined && leader !== '' && leader !== not ? cluster.node(leader) : undefined
    } catch {
      // no answer while the cluster elects
      return undefined
    }
  }, { intervalMs: 100, timeoutMs: 120_000, what: `stream ${stream} to have a leader${not !== undefined ? ` other than ${not}` : ''}` })
}

/** Accepted and applied batches of the fault stream, as the gateway and the persister count them. */
async function progress (p: Pipeline): Promise<{ accepted: number, applied: number }> {
  const [accepted, applied] = await Promise.all([
    metricValue(p.services.get('gateway')!.url, 'sisporta_gateway_batches_accepted_total', { stream: FAULT_STREAM }),
    metricValue(p.services.get('persister')!.url, 'sisporta_persister_batches_applied_total', { stream: FAULT_STREAM })
  ])
  return { accepted, applied }
}

/**
 * One full load with `node()` SIGKILLed once a tenth of its batches were accepted and some
 * applied; the node is restarted once the load moved on without it. Returns the load.
 */
async function loadKilling (t: Test, p: Pipeline, cluster: NatsCluster, jsm: JetStreamManager, role: string, pick: () => Promise<NatsClusterNode>): Promise<LoadRecord> {
  const batches = Math.ceil(FAULT_ROWS / FAULT_BATCH_SIZE)
  const before = await progress(p)
  const victim = await pick()
  const extract = p.extract(FAULT_STREAM, FAULT_EXTRACT_ARGS)
  const killAt = Math.ceil(batches / 10)
  const atKill = await eventually(async () => {
    const now = await progress(p)
    return now.accepted - before.accepted >= killAt && now.applied - before.applied >= 1 ? now : undefined
  }, { intervalMs: 10, timeoutMs: FAULT_LOAD_TIMEOUT_MS, what: `the gateway to accept ${killAt} batches and the persister to apply some` })
  await victim.kill()
  t.ok(atKill.accepted - before.accepted < batches, `${role} ${victim.name} killed mid-load: ${atKill.accepted - before.accepted} of ${batches} batches accepted, ${atKill.applied - before.applied} applied`)

  // the two survivors carry on: a leader among them, batches stored and applied without the dead node
  const leader = await leaderOf(jsm, p.names.batchStream, cluster, victim.name)
  const moved = await eventually(async () => {
    const now = await progress(p)
    const stored = now.accepted > atKill.accepted || now.accepted - before.accepted >= batches
    return stored && now.applied > atKill.applied ? now : undefined
  }, { intervalMs: 50, timeoutMs: FAULT_LOAD_TIMEOUT_MS, what: `the load to move on with ${victim.name} down` })
  t.pass(`with ${victim.name} down, ${leader.name} leads the batch stream; the load moved on (${moved.accepted - before.accepted} accepted, ${moved.applied - before.applied} applied)`)

  await victim.restart()
  await cluster.streamReplicated(jsm, p.names.batchStream, REPLICAS)
  await cluster.streamReplicated(jsm, `KV_${p.names.loadsBucket}`, REPLICAS)
  const result = await extract
  t.equal(result.code, 0, 'extract --wait exits 0: the load is applied and reconciled', { stdout: result.stdout.slice(-3000), stderr: result.stderr.slice(-3000) })
  // the registry is read like an operator would: a JetStream API request that times out while the
  // restarted node catches up (seen on a busy CI machine) is asked again; any other error fails
  const load = await eventually(async () => {
    try {
      return await newestLoad(p)
    } catch (err) {
      if (isBusUnavailable(err)) return undefined
      throw err
    }
  }, { intervalMs: 250, what: 'the load registry to answer after the restart' })
  t.equal(load.state, 'reconciled', `load ${load.id} is reconciled`)
  return load
}

/** `sisporta_batches` of one load: exactly one row per batch (COUNT(*) = COUNT(DISTINCT batch_no) = the load's batches). */
async function expectAppliedOnce (t: Test, p: Pipeline, load: LoadRecord): Promise<void> {
  const [rows] = await p.target.query('SELECT COUNT(*) AS n, COUNT(DISTINCT batch_no) AS d FROM sisporta_batches WHERE stream = ? AND load_id = ?', [FAULT_STREAM, load.id]) as unknown as [{ n: string | number, d: string | number }[]]
  const batches = Math.ceil(FAULT_ROWS / FAULT_BATCH_SIZE)
  t.same({ rows: Number(rows[0]!.n), distinct: Number(rows[0]!.d) }, { rows: batches, distinct: batches }, `load ${load.id}: ${batches} batches, each applied once`)
}

t.test('fault – 3-node NATS cluster with R3 streams: the stream leader, then a follower, SIGKILLed mid-load; every batch applied once', async (t) => {
  const cluster = await natsCluster(t, 3)
  await cluster.formed()
  const nc = await connect({ servers: cluster.servers, maxReconnectAttempts: -1, reconnectTimeWait: 250 })
  const p = await startPipeline(t, {
    configYaml: FAULT_CONFIG_YAML,
    fillSource: async (sql) => { await fillFaultErp(sql) },
    env: { ...FAULT_ENV, SISPORTA_JETSTREAM_REPLICAS: String(REPLICAS) },
    natsUrl: cluster.url,
    nc
  })
  const jsm = await nc.jetstreamManager()
  for (const stream of [p.names.batchStream, p.names.dlqStream, `KV_${p.names.loadsBucket}`]) {
    t.equal((await jsm.streams.info(stream)).config.num_replicas, REPLICAS, `${stream}: ${REPLICAS} replicas (SISPORTA_JETSTREAM_REPLICAS)`)
  }
  await cluster.streamReplicated(jsm, p.names.batchStream, REPLICAS)
  const rows = await sourceRows(p.source)

  const first = await loadKilling(t, p, cluster, jsm, 'stream leader', async () => await leaderOf(jsm, p.names.batchStream, cluster))
  await expectLedger(t, p.target, first, rows)
  await expectAppliedOnce(t, p, first)
  await p.expectMirror(t)

  const second = await loadKilling(t, p, cluster, jsm, 'follower', async () => (await cluster.streamReplicated(jsm, p.names.batchStream, REPLICAS)).followers[0]!)
  await expectLedger(t, p.target, second, rows)
  await expectAppliedOnce(t, p, second)
  await p.expectMirror(t)
  t.equal(await metricValue(p.services.get('persister')!.url, 'sisporta_persister_batches_dead_lettered_total'), 0, 'no batch was dead-lettered')

  // Replicas are the operator's: a service started with another SISPORTA_JETSTREAM_REPLICAS
  // (here the default, 1) warns and leaves the R3 objects as they are.
  await p.services.get('reconciler')!.stop(10_000)
  const log = watchLog(p, 'reconciler')
  await p.start('reconciler', { SISPORTA_JETSTREAM_REPLICAS: '1' })
  for (const stream of [p.names.batchStream, p.names.dlqStream, `KV_${p.names.loadsBucket}`]) {
    t.equal((await jsm.streams.info(stream)).config.num_replicas, REPLICAS, `${stream}: still ${REPLICAS} replicas after a service started with SISPORTA_JETSTREAM_REPLICAS=1`)
  }
  const warned = log.matching((l) => l.setting === 'num_replicas' && l.existing === REPLICAS && l.wanted === 1 && /left as it is/.test(String(l.msg)))
  t.same(warned.map((l) => l.object).sort(), [`bucket ${p.names.loadsBucket}`, `stream ${p.names.batchStream}`, `stream ${p.names.dlqStream}`].sort(), 'one warning per object, naming the setting, the existing and the wanted value')
})
