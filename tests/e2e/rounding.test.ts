import t from 'tap'
import type { Connection } from 'mysql2/promise'
import { BatchHeaders } from '@sisporta/contracts'
import { eventually } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'

// Issue 9, defect 1: after `ALTER TABLE … MODIFY qty DECIMAL(12,1)` on the target, a full load
// ended `reconciled` with 3.125 stored as 3.1 — MariaDB only notes the rounding, even in strict
// mode. The four services run as separate processes over the real NATS and MariaDB; the target
// is read with SQL, never through sisporta's readers.
const CONFIG = `
streams:
  - name: orders
    source: { table: Pedidos }
    target: { table: orders, key: [id] }
    columns:
      - { name: id, from: Id, type: int }
      - { name: qty, from: Qtd, type: decimal, precision: 12, scale: 3 }
`

async function fill (sql: Connection): Promise<void> {
  await sql.query('CREATE TABLE Pedidos (Id INT PRIMARY KEY, Qtd DECIMAL(12,3) NOT NULL)')
  await sql.query('INSERT INTO Pedidos VALUES (1, 2.5), (2, 3.1), (3, 7)')
}

t.test('rounding – a target narrowed to DECIMAL(12,1) never receives 3.125 as 3.1: the batch is dead-lettered, the load fails, the row keeps its value', async (t) => {
  const p = await startPipeline(t, {
    configYaml: CONFIG,
    fillSource: fill,
    // a load whose batch is dead-lettered fails once its batches are overdue
    env: { SISPORTA_APPLY_TIMEOUT: '5' }
  })
  const target = async (): Promise<{ id: number, qty: string, load: string }[]> =>
    (await p.target.query('SELECT id, CAST(qty AS CHAR) AS qty, CAST(_sisporta_load AS CHAR) AS `load` FROM orders ORDER BY id') as unknown as [{ id: number, qty: string, load: string }[]])[0]

  const first = await p.extract('orders')
  t.equal(first.code, 0, 'the first full load is reconciled', { stderr: first.stderr.slice(-2000) })
  const firstLoad = (await target())[0]!.load
  t.same(await target(), [{ id: 1, qty: '2.500', load: firstLoad }, { id: 2, qty: '3.100', load: firstLoad }, { id: 3, qty: '7.000', load: firstLoad }])

  // the application's team narrows the column (the values there fit it); the ERP then changes a row
  await p.target.query('ALTER TABLE orders MODIFY qty DECIMAL(12,1) NOT NULL')
  await p.source.query('UPDATE Pedidos SET Qtd = 3.125 WHERE Id = 2')
  const before = await target()
  t.same(before.map((r) => r.qty), ['2.5', '3.1', '7.0'])

  // every row sent (`--reload rows`), as a first load or `source.reload: rows` would: the batch
  // holds the unchanged rows too, and none of them may change (diffed reloads: reload-diff.test.ts)
  const second = await p.extract('orders', ['--reload', 'rows'])
  t.equal(second.code, 1, 'extract --wait exits 1: the load did not complete', { stdout: second.stdout.slice(-2000), stderr: second.stderr.slice(-2000) })
  const load = (await p.loads('orders')).at(-1)!
  t.not(load.state, 'reconciled', `the load ended ${load.state}, not reconciled`)
  t.equal(load.state, 'failed')

  const jsm = await p.nc.jetstreamManager()
  const letters = await eventually(async () => {
    const info = await jsm.streams.info(p.names.dlqStream)
    return info.state.messages >= 1 ? info : undefined
  }, { what: 'the dead letter', timeoutMs: 60_000 })
  t.equal(letters.state.messages, 1, 'one batch, dead-lettered once')
  const letter = await jsm.streams.getMessage(p.names.dlqStream, { seq: letters.state.first_seq })
  t.equal(letter.header.get(BatchHeaders.Load), String(load.id), 'the dead letter is the failed load\'s batch')
  t.equal(letter.header.get(BatchHeaders.Deliveries), '1', 'refused at once: retrying cannot help')
  t.equal(letter.header.get(BatchHeaders.Reason),
    `SIS_PERSIST_VALUE_CHANGED: batch 0 of load ${load.id} (stream 'orders'): row 1, column 'qty' (decimal(12,1)): the value would be rounded or truncated to fit the column — ` +
    "MySQL Note 1265: Data truncated for column 'qty'. Nothing of the batch is stored.", 'the reason names the row (Id 2 is the batch\'s row 1), the column, the rounding and MySQL\'s note')

  t.same(await target(), before, 'every row keeps its value and its stamp: 3.1 is the value the first load wrote, not 3.125 rounded')
  const [booked] = await p.target.query('SELECT COUNT(*) AS n FROM sisporta_batches WHERE load_id = ?', [load.id]) as unknown as [{ n: string }[]]
  t.equal(Number(booked[0]!.n), 0, 'the refused batch is not booked')

  // the persister now checks the table before writing: the next load is refused naming both types
  const third = await p.extract('orders', ['--reload', 'rows'])
  t.equal(third.code, 1)
  const refused = await eventually(async () => {
    const info = await jsm.streams.info(p.names.dlqStream)
    return info.state.messages >= 2 ? await jsm.streams.getMessage(p.names.dlqStream, { seq: info.state.last_seq }) : undefined
  }, { what: 'the second dead letter', timeoutMs: 60_000 })
  t.match(refused.header.get(BatchHeaders.Reason), /^SIS_PERSIST_TARGET_TYPE: batch 0 of load \d+: the target cannot hold every value of the stream, nothing of the batch is stored: stream 'orders', target table 'orders': column 'qty' is decimal\(12,1\) but the stream declares decimal\(12,3\); values would be rounded$/)
  t.same(await target(), before, 'still untouched')

  // once the column holds the stream's values again, the next full load mirrors the ERP exactly
  await p.target.query('ALTER TABLE orders MODIFY qty DECIMAL(12,3) NOT NULL')
  const fourth = await p.extract('orders')
  t.equal(fourth.code, 0, 'reconciled', { stderr: fourth.stderr.slice(-2000) })
  t.same((await target()).map((r) => [r.id, r.qty]), [[1, '2.500'], [2, '3.125'], [3, '7.000']], '3.125 stored as 3.125')
})
