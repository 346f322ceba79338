import t from 'tap'
import { headers as natsHeaders } from 'nats'
import { BatchHeaders } from '@sisporta/contracts'
import { migrate } from '@sisporta/db'
import { eventually, testBus, testDatabase } from '@sisporta/testkit'
import { config, publishBatch, testPersister } from './helpers.js'

// Bisection, by behaviour, against the real MariaDB and NATS: a batch some of whose rows the
// target refuses applies its good rows, and only the offending rows become a dead letter that
// names their keys, the column and MySQL's error. The batch stays unbooked, so its load is
// never counted applied; the letter replayed (after the cause is fixed) completes it.

const COLUMNS = ['id', 'label']
// text a latin1 column cannot hold: MySQL refuses the row, naming the column (a column narrower
// than the config would be refused for the whole table by the target check, before any row)
const NOT_LATIN1 = 'café ☕'
const rowsOf = (n: number, bad: ReadonlySet<number>, badLabel = NOT_LATIN1): unknown[][] =>
  Array.from({ length: n }, (_, i) => [i + 1, bad.has(i + 1) ? badLabel : `ok${i + 1}`])

async function setup (t: Parameters<typeof testBus>[0], options: { maxBisectAttempts?: number } = {}) {
  const bus = await testBus(t)
  const { url, sql } = await testDatabase(t)
  const { createDb } = await import('@sisporta/db')
  const db = createDb(url, { poolSize: 1 })
  await migrate(db, config)
  await db.destroy()
  const { worker, loads, sink } = await testPersister(t, bus, url, config, options)
  const jsm = await bus.nc.jetstreamManager()
  const query = async (q: string, values: unknown[] = []): Promise<Record<string, unknown>[]> => (await sql.query(q, values))[0] as Record<string, unknown>[]
  const letters = async () => (await jsm.streams.info(bus.names.dlqStream)).state.messages
  return { ...bus, sql, worker, loads, sink, jsm, query, letters }
}

t.test('bisection – a 100-row batch with 3 rows a latin1 column cannot hold: 97 rows applied, one letter with exactly those 3 rows, their keys and the column', async (t) => {
  const s = await setup(t)
  await s.sql.query('ALTER TABLE shorts MODIFY label LONGTEXT CHARACTER SET latin1 NULL')
  const load = (await s.loads.openLoad({ stream: 'shorts', mode: 'full', openedBy: 'test' })).id
  const bad = new Set([7, 50, 93])
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: load, batch: 0, body: { columns: COLUMNS, rows: rowsOf(100, bad) } })
  await s.worker.start()
  await eventually(async () => (await s.letters()) === 1 ? true : undefined, { what: 'one dead letter' })

  const stored = await s.query('SELECT id FROM shorts ORDER BY id')
  t.same(stored.map((r) => Number(r.id)), rowsOf(100, new Set()).map((r) => r[0]).filter((id) => !bad.has(id as number)), '97 good rows applied')
  t.same(await s.query('SELECT * FROM sisporta_batches'), [], 'the batch itself is not booked: its load is never counted applied')
  const parts = await s.query('SELECT SUM(row_count) AS n FROM sisporta_batch_parts WHERE stream = ? AND load_id = ? AND batch_no = 0', ['shorts', load])
  t.equal(Number(parts[0]!.n), 97, 'the parts applied are booked as parts, 97 rows')

  const letter = await s.jsm.streams.getMessage(s.names.dlqStream, { seq: 1 })
  t.same(letter.json(), { columns: COLUMNS, rows: [[7, NOT_LATIN1], [50, NOT_LATIN1], [93, NOT_LATIN1]] }, 'the letter holds exactly the three refused rows')
  t.equal(letter.header.get(BatchHeaders.Rows), '3')
  t.equal(letter.header.get(BatchHeaders.BatchRows), '100')
  t.equal(letter.header.get(BatchHeaders.Applied), '97')
  t.same(JSON.parse(letter.header.get(BatchHeaders.Keys)), [{ id: 7 }, { id: 50 }, { id: 93 }], 'the offending rows\' keys')
  t.equal(letter.header.get(BatchHeaders.Column), 'label', 'the column MySQL named')
  t.match(letter.header.get(BatchHeaders.Reason), /^SIS_PERSIST_ROWS_REFUSED: batch 0 of load \d+ \(stream 'shorts'\): 3 of 100 rows refused, 97 applied .*row 6 \(id=7\), column 'label': Incorrect string value/)
  const line = s.sink.lines.find((l) => l.msg === 'batch bisected: good rows applied, the rest goes to the dead-letter stream')
  t.match(line, { applied: 97, refused: 3, undecided: 0 })
  t.ok((line?.attempts as number) < 64, `bounded: ${String(line?.attempts)} transactions`)
})

t.test('bisection – a trigger refusing rows (SIGNAL 45000) leaves them in the letter; replayed after the fix, the batch is complete and booked once', async (t) => {
  const s = await setup(t)
  await s.sql.query("CREATE TRIGGER refuse_x BEFORE INSERT ON shorts FOR EACH ROW IF NEW.label = 'x' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'label x refused by a trigger'; END IF")
  const load = (await s.loads.openLoad({ stream: 'shorts', mode: 'full', openedBy: 'test' })).id
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: load, batch: 3, body: { columns: COLUMNS, rows: rowsOf(20, new Set([2, 3]), 'x') } })
  await s.worker.start()
  await eventually(async () => (await s.letters()) === 1 ? true : undefined, { what: 'one dead letter' })
  const letter = await s.jsm.streams.getMessage(s.names.dlqStream, { seq: 1 })
  t.same(letter.json(), { columns: COLUMNS, rows: [[2, 'x'], [3, 'x']] })
  t.match(letter.header.get(BatchHeaders.Reason), /label x refused by a trigger/)
  t.equal(Number((await s.query('SELECT COUNT(*) AS n FROM shorts'))[0]!.n), 18)

  await s.sql.query('DROP TRIGGER refuse_x')
  // replay it as `dlq replay` does: the letter's rows and headers, plus Sisporta-Replay
  const h = natsHeaders()
  for (const key of [BatchHeaders.Stream, BatchHeaders.Load, BatchHeaders.Batch, BatchHeaders.Mode, BatchHeaders.Rows, BatchHeaders.BatchRows]) h.set(key, letter.header.get(key))
  h.set(BatchHeaders.Replay, '1')
  for (let i = 0; i < 2; i++) {
    // twice, under two de-duplication ids: the second is a duplicate by the ledger
    await s.nc.jetstream().publish(s.names.batchSubject('shorts'), letter.data, { headers: h, msgID: `replay-1-${i}` })
  }
  await eventually(async () => (await s.query('SELECT row_count FROM sisporta_batches WHERE batch_no = 3')).length === 1 && (await s.jsm.streams.info(s.names.batchStream)).state.messages === 0 ? true : undefined, { what: 'the batch booked whole' })
  t.same(await s.query('SELECT batch_no, row_count FROM sisporta_batches'), [{ batch_no: 3, row_count: 20 }], 'the replay completed the batch: booked whole, with its 20 rows')
  t.same((await s.query('SELECT part, row_count FROM sisporta_batch_parts ORDER BY part')).find((p) => p.part === 'replay 1'), { part: 'replay 1', row_count: 2 })
  t.equal(Number((await s.query('SELECT COUNT(*) AS n FROM shorts'))[0]!.n), 20, 'every row is in the target')
  t.equal(await s.letters(), 1, 'no new letter')
})

t.test('bisection – bounded: 200 rows that all fail cost at most maxBisectAttempts transactions and one letter with every row', async (t) => {
  const s = await setup(t, { maxBisectAttempts: 10 })
  await s.sql.query('ALTER TABLE shorts MODIFY label LONGTEXT CHARACTER SET latin1 NULL')
  const load = (await s.loads.openLoad({ stream: 'shorts', mode: 'full', openedBy: 'test' })).id
  const all = new Set(Array.from({ length: 200 }, (_, i) => i + 1))
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: load, batch: 0, body: { columns: COLUMNS, rows: rowsOf(200, all) } })
  await s.worker.start()
  await eventually(async () => (await s.letters()) === 1 ? true : undefined, { what: 'one dead letter' })
  const letter = await s.jsm.streams.getMessage(s.names.dlqStream, { seq: 1 })
  t.equal((letter.json() as { rows: unknown[] }).rows.length, 200, 'every row in the one letter')
  t.equal(letter.header.get(BatchHeaders.Applied), '0')
  t.match(letter.header.get(BatchHeaders.Reason), /not tried one by one \(bisection stopped after 10 transactions/)
  t.match(s.sink.lines.find((l) => typeof l.attempts === 'number'), { attempts: 10, applied: 0 })
  t.equal(Number((await s.query('SELECT COUNT(*) AS n FROM shorts'))[0]!.n), 0)
})

t.test('bisection – a table that cannot hold the stream stops it before any row: the whole batch is the letter, with MySQL\'s first refusal', async (t) => {
  const s = await setup(t)
  const load = (await s.loads.openLoad({ stream: 'shorts', mode: 'full', openedBy: 'test' })).id
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: load, batch: 0, body: { columns: COLUMNS, rows: [[1, 'one']] } })
  await s.worker.start()
  await eventually(async () => (await s.query('SELECT * FROM sisporta_batches')).length === 1 ? true : undefined, { what: 'batch 0 applied (the target checked and found fit)' })
  // narrowed under the running persister: the next batch's statement meets it first
  await s.sql.query('ALTER TABLE shorts MODIFY label VARCHAR(5) NULL')
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: load, batch: 1, body: { columns: COLUMNS, rows: [[2, 'two'], [3, 'far too long'], [4, 'four']] } })
  await eventually(async () => (await s.letters()) === 1 ? true : undefined, { what: 'one dead letter' })
  const letter = await s.jsm.streams.getMessage(s.names.dlqStream, { seq: 1 })
  t.same((letter.json() as { rows: unknown[] }).rows.length, 3, 'the whole batch')
  t.match(letter.header.get(BatchHeaders.Reason), /^SIS_PERSIST_REJECTED: batch 1 of load \d+ \(stream 'shorts'\): row 1, column 'label': Data too long/)
  t.equal(letter.header.get(BatchHeaders.Keys), '', 'no bisection headers')
  t.same((await s.query('SELECT id FROM shorts ORDER BY id')).map((r) => Number(r.id)), [1], 'nothing of the batch is stored')
})
