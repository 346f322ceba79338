import t from 'tap'
import type { JsMsg } from 'nats'
import { BatchHeaders } from '@sisporta/contracts'
import { testBus } from '@sisporta/testkit'
import { PersistError, decideSettlement, settle } from '../src/index.js'
import { publishBatch } from './helpers.js'

/** Errors shaped exactly like the ones mysql2 rejects with. */
function mysqlError (message: string, fields: { errno?: number, code: string, sqlState?: string, fatal?: boolean }): Error {
  return Object.assign(new Error(message), fields)
}
const deadlock = () => mysqlError('Deadlock found when trying to get lock; try restarting transaction', { errno: 1213, code: 'ER_LOCK_DEADLOCK', sqlState: '40001' })
const lockWait = () => mysqlError('Lock wait timeout exceeded; try restarting transaction', { errno: 1205, code: 'ER_LOCK_WAIT_TIMEOUT', sqlState: 'HY000' })
const connectionLost = () => mysqlError('Connection lost: The server closed the connection.', { code: 'PROTOCOL_CONNECTION_LOST', fatal: true })
const refused = () => mysqlError('connect ECONNREFUSED 127.0.0.1:3306', { errno: -111, code: 'ECONNREFUSED', fatal: true })
const shutdown = () => mysqlError('Server shutdown in progress', { errno: 1053, code: 'ER_SERVER_SHUTDOWN', sqlState: '08S01' })
const tooLong = () => mysqlError("Data too long for column 'label' at row 3", { errno: 1406, code: 'ER_DATA_TOO_LONG', sqlState: '22001' })
const noTable = () => mysqlError("Table 'x.items' doesn't exist", { errno: 1146, code: 'ER_NO_SUCH_TABLE', sqlState: '42S02' })

t.test('settle – classifies: success acks, transient MySQL errors nak with a growing delay', async (t) => {
  t.same(decideSettlement(undefined, 1, 5), { action: 'ack' })
  t.same(decideSettlement(undefined, 9, 5), { action: 'ack' }, 'a success is acked whatever the deliveries')
  t.same(decideSettlement(deadlock(), 1, 5), { action: 'nak', delayMs: 1000 })
  t.same(decideSettlement(deadlock(), 2, 5), { action: 'nak', delayMs: 2000 })
  t.same(decideSettlement(deadlock(), 3, 5), { action: 'nak', delayMs: 5000 })
  t.same(decideSettlement(deadlock(), 4, 20, [1000, 2000]), { action: 'nak', delayMs: 2000 }, 'the last delay repeats')
  for (const [name, err] of [['lock wait', lockWait()], ['connection lost', connectionLost()], ['refused', refused()], ['server shutdown', shutdown()]] as const) {
    t.equal(decideSettlement(err, 1, 5).action, 'nak', name)
  }
  const wrapped = new PersistError('SIS_PERSIST_REJECTED', 'batch 0 of load 1', { cause: deadlock() })
  t.equal(decideSettlement(wrapped, 1, 5).action, 'nak', 'a wrapped driver error is classified by its cause')
})

t.test('settle – classifies: permanent errors and exhausted deliveries go to the dead-letter stream', async (t) => {
  t.same(decideSettlement(tooLong(), 1, 5), { action: 'dead-letter', reason: "ER_DATA_TOO_LONG: Data too long for column 'label' at row 3" })
  t.equal(decideSettlement(noTable(), 1, 5).action, 'dead-letter')
  t.same(decideSettlement(new PersistError('SIS_PERSIST_BAD_BODY', "row 0, column 'id' (int): expected an integer number"), 1, 5),
    { action: 'dead-letter', reason: "SIS_PERSIST_BAD_BODY: row 0, column 'id' (int): expected an integer number" })
  t.equal(decideSettlement(new TypeError('bug'), 1, 5).action, 'dead-letter', 'an unexpected error is not retried forever')
  t.same(decideSettlement(deadlock(), 5, 5), { action: 'dead-letter', reason: 'gave up after 5 deliveries: ER_LOCK_DEADLOCK: Deadlock found when trying to get lock; try restarting transaction' })
})

async function pullOne (nc: Awaited<ReturnType<typeof testBus>>['nc'], names: Awaited<ReturnType<typeof testBus>>['names']): Promise<JsMsg> {
  const consumer = await nc.jetstream().consumers.get(names.batchStream, names.persisterConsumer)
  const msg = await consumer.next({ expires: 5000 })
  if (msg === null) throw new Error('no message')
  return msg
}

const body = { columns: ['id', 'label'], rows: [[1, 'a']] }

t.test('settle – a nak\'d batch comes back after the delay, then is acked', async (t) => {
  const { nc, names } = await testBus(t)
  const jsm = await nc.jetstreamManager()
  await publishBatch(nc, names, { stream: 'shorts', loadId: 1, batch: 0, body })
  const first = await pullOne(nc, names)
  t.equal(first.info.redeliveryCount, 1)
  const nakAt = Date.now()
  t.equal(await settle(first, deadlock(), { js: nc.jetstream(), names, maxDeliver: 5, delaysMs: [400] }), 'nakked')
  const second = await pullOne(nc, names)
  t.ok(Date.now() - nakAt >= 350, 'redelivered after the delay')
  t.equal(second.info.redeliveryCount, 2)
  t.equal(second.info.streamSequence, first.info.streamSequence)
  t.equal(await settle(second, undefined, { js: nc.jetstream(), names, maxDeliver: 5 }), 'acked')
  const info = await jsm.consumers.info(names.batchStream, names.persisterConsumer)
  t.equal(info.num_ack_pending, 0)
  t.equal((await jsm.streams.info(names.batchStream)).state.messages, 0, 'acked: gone from the work queue')
})

t.test('settle – dead-letters a permanent failure with the reason, and only then terms the batch', async (t) => {
  const { nc, names } = await testBus(t)
  const jsm = await nc.jetstreamManager()
  await publishBatch(nc, names, { stream: 'shorts', loadId: 4, batch: 2, mode: 'incremental', body })
  const msg = await pullOne(nc, names)
  t.equal(await settle(msg, tooLong(), { js: nc.jetstream(), names, maxDeliver: 5 }), 'dead-lettered')

  const dlq = await jsm.streams.info(names.dlqStream)
  t.equal(dlq.state.messages, 1)
  const letter = await jsm.streams.getMessage(names.dlqStream, { seq: dlq.state.first_seq })
  t.equal(letter.subject, names.dlqSubject('shorts'))
  t.same(letter.json(), body, 'the payload is the original batch body')
  t.equal(letter.header.get(BatchHeaders.Stream), 'shorts')
  t.equal(letter.header.get(BatchHeaders.Load), '4')
  t.equal(letter.header.get(BatchHeaders.Batch), '2')
  t.equal(letter.header.get(BatchHeaders.Mode), 'incremental')
  t.equal(letter.header.get(BatchHeaders.Rows), '1')
  t.equal(letter.header.get(BatchHeaders.Reason), "ER_DATA_TOO_LONG: Data too long for column 'label' at row 3")
  t.equal(letter.header.get(BatchHeaders.Deliveries), '1')

  await nc.flush()
  const info = await jsm.consumers.info(names.batchStream, names.persisterConsumer)
  t.equal(info.num_ack_pending, 0, 'the original was termed')
  t.equal(info.num_pending, 0)
  t.equal((await jsm.streams.info(names.batchStream)).state.messages, 0, 'termed: gone from the work queue')
})

t.test('settle – a transient failure is dead-lettered once deliveries reach maxDeliver', async (t) => {
  const { nc, names } = await testBus(t, { maxDeliver: 2 })
  const jsm = await nc.jetstreamManager()
  await publishBatch(nc, names, { stream: 'shorts', loadId: 1, batch: 0, body })
  const deps = { js: nc.jetstream(), names, maxDeliver: 2, delaysMs: [100] }
  t.equal(await settle(await pullOne(nc, names), deadlock(), deps), 'nakked')
  t.equal(await settle(await pullOne(nc, names), deadlock(), deps), 'dead-lettered')
  const letter = await jsm.streams.getMessage(names.dlqStream, { last_by_subj: names.dlqSubject('shorts') })
  t.match(letter.header.get(BatchHeaders.Reason), /^gave up after 2 deliveries: ER_LOCK_DEADLOCK/)
  t.equal(letter.header.get(BatchHeaders.Deliveries), '2')
})
