import t from 'tap'
import { BatchHeaders, busNames } from '@sisporta/contracts'
import { createLogger } from '@sisporta/observability'
import { connect } from 'nats'
import { TEST_NATS_URL, randomId, testBus } from '@sisporta/testkit'
import { createBatchPublisher } from '../src/index.js'

const log = createLogger({ service: 'gateway', level: 'silent' })
const payload = (s: string): Uint8Array => new TextEncoder().encode(s)

t.test('batch publisher – resolves after the PubAck with the message stored, de-duplicates by batch id', async (t) => {
  const { nc, names } = await testBus(t)
  const publisher = createBatchPublisher({ js: nc.jetstream(), names, log })
  const batch = { stream: 'products', loadId: 9, batch: 2, mode: 'full' as const, rows: 1, payload: payload('{"columns":["sku"],"rows":[["A"]]}') }
  const first = await publisher.publish(batch)
  t.equal(first.duplicate, false)
  const jsm = await nc.jetstreamManager()
  const msg = await jsm.streams.getMessage(names.batchStream, { seq: first.seq })
  t.equal(msg.subject, names.batchSubject('products'))
  t.same(msg.data, batch.payload)
  t.equal(msg.header.get(BatchHeaders.MsgId), 'products.9.2')
  t.equal(msg.header.get(BatchHeaders.Rows), '1')
  const again = await publisher.publish({ ...batch, payload: payload('{"columns":["sku"],"rows":[["B"]]}') })
  t.same(again, { duplicate: true, seq: first.seq }, 'the same batch id is the same message, whatever the retry carries')
  t.equal((await jsm.streams.info(names.batchStream)).state.messages, 1)
  t.equal(publisher.inFlight, 0)
})

t.test('batch publisher – refuses beyond its in-flight bound instead of queueing', async (t) => {
  const { nc, names } = await testBus(t)
  const publisher = createBatchPublisher({ js: nc.jetstream(), names, log, maxInFlight: 2 })
  const results = await Promise.allSettled(Array.from({ length: 5 }, async (_, i) => await publisher.publish({ stream: 'p', loadId: 1, batch: i, mode: 'full', rows: 1, payload: payload('{}') })))
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 2)
  for (const r of results.filter((r) => r.status === 'rejected')) t.match((r as PromiseRejectedResult).reason, { code: 'SIS_GW_BUSY', statusCode: 503, retryAfterSec: 1 })
  t.equal(publisher.inFlight, 0)
  t.equal(publisher.saturated, false)
})

t.test('batch publisher – no stream, a closed connection or an oversized message: a coded error, never a hang', async (t) => {
  const { nc } = await testBus(t)
  const orphan = busNames(`t_${randomId()}`) // never provisioned: nothing answers its subjects
  const publisher = createBatchPublisher({ js: nc.jetstream(), names: orphan, log, timeoutMs: 1000 })
  const batch = { stream: 'p', loadId: 1, batch: 0, mode: 'full' as const, rows: 1, payload: payload('{}') }
  await t.rejects(publisher.publish(batch), { code: 'SIS_GW_BUS_UNAVAILABLE', statusCode: 503 })
  const { names } = await testBus(t)
  // A connection of our own to close (the test bus's own is needed to clean up).
  const other = await connect({ servers: TEST_NATS_URL })
  const huge = createBatchPublisher({ js: other.jetstream(), names, log })
  await t.rejects(huge.publish({ ...batch, payload: new Uint8Array((other.info?.max_payload ?? 1048576) + 1) }), { code: 'SIS_GW_BODY_TOO_LARGE', statusCode: 413 })
  await other.close()
  await t.rejects(huge.publish(batch), { code: 'SIS_GW_BUS_UNAVAILABLE' })
})
