import t, { type Test } from 'tap'
import { DiscardPolicy, RetentionPolicy, connect, nanos, type NatsConnection } from 'nats'
import { busNames, type BusNames } from '@sisporta/contracts'
import { DEFAULT_DLQ_MAX_BYTES, deprovisionBus, provisionBus } from '@sisporta/nats'
import { randomId, TEST_NATS_URL } from '@sisporta/testkit'

// Provisioning creates what is missing and never rewrites what an operator tuned: on the shared
// single server (num_replicas cannot exceed 1 there, so replicas are covered by the cluster test,
// tests/e2e/faults-nats-cluster.test.ts), an operator's limits and windows survive a service
// start with a warning naming the setting; what sisporta's correctness rests on is set back;
// what NATS cannot change stops the service.

interface Warning { object?: string, setting?: string, existing?: unknown, wanted?: unknown, msg?: string }

/** A BusLogger that keeps its warnings as data. */
function recorder (): { log: { info(o: object, m?: string): void, warn(o: object, m?: string): void }, warnings: Warning[] } {
  const warnings: Warning[] = []
  return { warnings, log: { info: () => {}, warn: (obj, msg) => { warnings.push({ ...obj, msg }) } } }
}

async function freshBus (t: Test): Promise<{ nc: NatsConnection, names: BusNames }> {
  const nc = await connect({ servers: TEST_NATS_URL })
  const names = busNames(`t_${randomId()}`)
  t.teardown(async () => {
    await deprovisionBus(nc, names).catch(() => {})
    await nc.close()
  })
  return { nc, names }
}

t.test('provision – the dead-letter stream is created with a byte limit and discards new letters, never old ones', async (t) => {
  const { nc, names } = await freshBus(t)
  await provisionBus(nc, names, { maxDeliver: 5 })
  const jsm = await nc.jetstreamManager()
  const dlq = (await jsm.streams.info(names.dlqStream)).config
  t.equal(dlq.max_bytes, DEFAULT_DLQ_MAX_BYTES, 'default: 1 GiB')
  t.equal(dlq.discard, DiscardPolicy.New, 'a full dead-letter stream refuses the new letter (the persister naks and says so)')
  t.equal((await jsm.streams.info(names.batchStream)).config.discard, DiscardPolicy.New, 'the batch stream too')

  await deprovisionBus(nc, names)
  await provisionBus(nc, names, { maxDeliver: 5, dlqMaxBytes: 0 })
  t.equal((await jsm.streams.info(names.dlqStream)).config.max_bytes, -1, '0: no byte limit')
})

t.test('provision – an operator\'s limits and windows survive a service start, each named in a warning', async (t) => {
  const { nc, names } = await freshBus(t)
  await provisionBus(nc, names, { maxDeliver: 5 })
  const jsm = await nc.jetstreamManager()
  // the operator tunes with `nats stream edit` / `nats consumer edit`
  await jsm.streams.update(names.dlqStream, { max_age: nanos(90 * 86400 * 1000), max_bytes: 5 * 1024 ** 3 })
  await jsm.streams.update(names.batchStream, { duplicate_window: nanos(10 * 60_000), max_msg_size: 8 * 1024 * 1024 })
  await jsm.consumers.update(names.batchStream, names.persisterConsumer, { ack_wait: nanos(120_000), max_ack_pending: 250 })

  const { log, warnings } = recorder()
  await provisionBus(nc, names, { maxDeliver: 5, log })

  const dlq = (await jsm.streams.info(names.dlqStream)).config
  const batches = (await jsm.streams.info(names.batchStream)).config
  const consumer = (await jsm.consumers.info(names.batchStream, names.persisterConsumer)).config
  t.same([dlq.max_age, dlq.max_bytes], [nanos(90 * 86400 * 1000), 5 * 1024 ** 3], 'dead letters: max age and max bytes as the operator set them')
  t.same([batches.duplicate_window, batches.max_msg_size], [nanos(10 * 60_000), 8 * 1024 * 1024], 'batches: duplicate window and largest message as the operator set them')
  t.same([consumer.ack_wait, consumer.max_ack_pending], [nanos(120_000), 250], 'consumer: ack wait and pending limit as the operator set them')

  const warned = (object: string, setting: string): Warning | undefined => warnings.find((w) => w.object === object && w.setting === setting)
  t.match(warned(`stream ${names.dlqStream}`, 'max_age'), { existing: nanos(90 * 86400 * 1000), wanted: nanos(30 * 86400 * 1000), msg: /SISPORTA_DLQ_MAX_AGE.*left as it is/ })
  t.match(warned(`stream ${names.dlqStream}`, 'max_bytes'), { existing: 5 * 1024 ** 3, wanted: DEFAULT_DLQ_MAX_BYTES, msg: /SISPORTA_DLQ_MAX_BYTES.*left as it is/ })
  t.match(warned(`stream ${names.batchStream}`, 'duplicate_window'), { existing: nanos(10 * 60_000), wanted: nanos(3600_000), msg: /left as it is/ })
  t.match(warned(`stream ${names.batchStream}`, 'max_msg_size'), { existing: 8 * 1024 * 1024, msg: /left as it is/ })
  t.match(warned(`consumer ${names.persisterConsumer}`, 'ack_wait'), { existing: nanos(120_000), wanted: nanos(60_000), msg: /SISPORTA_ACK_WAIT.*left as it is/ })
  t.match(warned(`consumer ${names.persisterConsumer}`, 'max_ack_pending'), { existing: 250, wanted: 1000 })
  t.equal(warnings.length, 6, 'one warning per difference, nothing else', { warnings })

  const again = recorder()
  await provisionBus(nc, names, { maxDeliver: 5, dlqMaxAgeSec: 90 * 86400, dlqMaxBytes: 5 * 1024 ** 3, duplicateWindowMs: 10 * 60_000, ackWaitMs: 120_000, log: again.log })
  t.same(again.warnings.filter((w) => w.object === `stream ${names.dlqStream}`), [], 'settings that match what sisporta asks for: no warning')
})

t.test('provision – what sisporta\'s correctness rests on is set back, with a warning', async (t) => {
  const { nc, names } = await freshBus(t)
  await provisionBus(nc, names, { maxDeliver: 5 })
  const jsm = await nc.jetstreamManager()
  // a dead-letter stream that would drop its oldest letter when full, a consumer that gives up
  // before the persister dead-letters, and a batch stream missing sisporta's subject
  await jsm.streams.update(names.dlqStream, { discard: DiscardPolicy.Old })
  await jsm.consumers.update(names.batchStream, names.persisterConsumer, { max_deliver: 2 })
  await jsm.streams.update(names.batchStream, { subjects: [`${names.namespace}.other.>`] })

  const { log, warnings } = recorder()
  await provisionBus(nc, names, { maxDeliver: 5, log })
  t.equal((await jsm.streams.info(names.dlqStream)).config.discard, DiscardPolicy.New, 'discard new again')
  t.equal((await jsm.consumers.info(names.batchStream, names.persisterConsumer)).config.max_deliver, 6, 'max_deliver above SISPORTA_MAX_DELIVER again')
  t.same((await jsm.streams.info(names.batchStream)).config.subjects, [`${names.namespace}.other.>`, names.batchSubjects], 'sisporta\'s subject added, the operator\'s kept')
  t.match(warnings.find((w) => w.setting === 'discard'), { object: `stream ${names.dlqStream}`, existing: DiscardPolicy.Old, wanted: DiscardPolicy.New, msg: /set it back/ })
  t.match(warnings.find((w) => w.setting === 'max_deliver'), { existing: 2, wanted: 6, msg: /set it back/ })
  t.match(warnings.find((w) => w.setting === 'subjects'), { object: `stream ${names.batchStream}`, msg: /set it back/ })
})

t.test('provision – a setting NATS cannot change and sisporta needs stops the service with SIS_BUS_INCOMPATIBLE', async (t) => {
  const { nc, names } = await freshBus(t)
  const jsm = await nc.jetstreamManager()
  // someone made the batch stream before sisporta did, as a limits stream: acked batches would stay forever
  await jsm.streams.add({ name: names.batchStream, subjects: [names.batchSubjects], retention: RetentionPolicy.Limits })
  await t.rejects(provisionBus(nc, names, { maxDeliver: 5 }), { code: 'SIS_BUS_INCOMPATIBLE', exitCode: 2, message: new RegExp(`stream ${names.batchStream} has retention "limits".*"workqueue"`) })

  // (a work-queue stream itself refuses a consumer without explicit acks or one not delivering all)
  await jsm.streams.delete(names.batchStream)
  await jsm.streams.add({ name: names.dlqStream, subjects: [names.dlqSubjects], retention: RetentionPolicy.Interest })
  await t.rejects(provisionBus(nc, names, { maxDeliver: 5 }), { code: 'SIS_BUS_INCOMPATIBLE', message: new RegExp(`stream ${names.dlqStream} has retention "interest".*"limits"`) })
})

t.test('provision – more replicas than the server can hold is a clear error naming SISPORTA_JETSTREAM_REPLICAS', async (t) => {
  const { nc, names } = await freshBus(t)
  await t.rejects(provisionBus(nc, names, { maxDeliver: 5, replicas: 3 }), { code: 'SIS_BUS_REPLICAS', exitCode: 2, message: /SISPORTA_JETSTREAM_REPLICAS=3/ })
})
