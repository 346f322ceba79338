import t from 'tap'
import { BatchHeaders } from '@sisporta/contracts'
import { createDb, migrate } from '@sisporta/db'
import { eventually, testBus, testDatabase } from '@sisporta/testkit'
import { config, publishBatch, testPersister } from './helpers.js'

t.test('persister – a value a latin1 target column cannot hold is dead-lettered naming the batch row and column, never stored as ?', async (t) => {
  const bus = await testBus(t, { maxDeliver: 5 })
  const { url, sql } = await testDatabase(t)
  const db = createDb(url, { poolSize: 2 })
  t.teardown(() => db.destroy())
  await migrate(db, config)
  // an existing application table whose text column is latin1 (migrate warns about it)
  await sql.query('ALTER TABLE shorts MODIFY label LONGTEXT CHARACTER SET latin1 NULL')
  // two rows a statement: the bad row is row 2 of the second statement, row 3 of the batch
  const { worker, loads } = await testPersister(t, bus, url, config, { applyLimits: { maxRows: 2 } })
  const loadId = (await loads.openLoad({ stream: 'shorts', mode: 'full', openedBy: 'test' })).id
  await publishBatch(bus.nc, bus.names, { stream: 'shorts', loadId, batch: 0, body: { columns: ['id', 'label'], rows: [[1, 'Açúcar'], [2, 'plain'], [3, 'x'], [4, 'café ☕'], [5, 'ok']] } })
  // the general path (rows before columns: the transcoder leaves it to JSON.parse) names it alike
  await publishBatch(bus.nc, bus.names, { stream: 'shorts', loadId, batch: 1, body: { rows: [[6, 'ok'], [7, '😀']], columns: ['id', 'label'] } as unknown as { columns: string[], rows: unknown[][] } })
  await publishBatch(bus.nc, bus.names, { stream: 'shorts', loadId, batch: 2, body: { columns: ['id', 'label'], rows: [[8, 'Açúcar São João ÿ']] } })
  await worker.start()

  const jsm = await bus.nc.jetstreamManager()
  await eventually(async () => (await jsm.streams.info(bus.names.dlqStream)).state.messages === 2 && (await jsm.streams.info(bus.names.batchStream)).state.messages === 0 ? true : undefined, { what: 'two dead letters, the rest applied' })
  const letters = await Promise.all([1, 2].map(async (seq) => await jsm.streams.getMessage(bus.names.dlqStream, { seq })))
  const reasons = new Map(letters.map((m) => [m.header.get(BatchHeaders.Batch), m.header.get(BatchHeaders.Reason)]))
  // each batch is bisected (bisect-batch.test.ts): the refused row alone is dead-lettered, named by its batch row and key
  t.match(reasons.get('0'), /^SIS_PERSIST_ROWS_REFUSED: batch 0 of load \d+ \(stream 'shorts'\): 1 of 5 rows refused, 4 applied .*; row 3 \(id=4\), column 'label': Incorrect string value: '\\xE2\\x98\\x95' for column .*label.* \(MySQL error 1366\)$/, 'row 3 of the batch')
  t.match(reasons.get('1'), /^SIS_PERSIST_ROWS_REFUSED: batch 1 of load \d+ \(stream 'shorts'\): 1 of 2 rows refused, 1 applied .*; row 1 \(id=7\), column 'label': Incorrect string value: '\\xF0\\x9F\\x98\\x80'/)
  t.ok(letters.every((m) => m.header.get(BatchHeaders.Deliveries) === '1'), 'refused at once, not retried')
  const bodies = new Map(letters.map((m) => [m.header.get(BatchHeaders.Batch), m.json()]))
  t.same(bodies.get('0'), { columns: ['id', 'label'], rows: [[4, 'café ☕']] }, 'the letter holds the refused row only')
  t.same(bodies.get('1'), { columns: ['id', 'label'], rows: [[7, '😀']] }, 'also from a body with rows before columns')
  // the good rows are stored exactly, in the column's character set; nothing as '?'
  const [rows] = await sql.query('SELECT id, label, HEX(label) AS bytes FROM shorts ORDER BY id') as unknown as [{ id: number, label: string, bytes: string }[]]
  const latin1 = (text: string) => ({ label: text, bytes: Buffer.from(text, 'latin1').toString('hex').toUpperCase() })
  t.same(rows, [
    { id: 1, ...latin1('Açúcar') }, { id: 2, ...latin1('plain') }, { id: 3, ...latin1('x') }, { id: 5, ...latin1('ok') }, { id: 6, ...latin1('ok') },
    { id: 8, ...latin1('Açúcar São João ÿ') }
  ], 'text the column holds is stored exactly, in its character set')
  const [booked] = await sql.query('SELECT batch_no FROM sisporta_batches') as unknown as [{ batch_no: number }[]]
  t.same(booked, [{ batch_no: 2 }], 'the bisected batches are not booked (their load is never counted applied)')
})
