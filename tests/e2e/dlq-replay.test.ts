import t from 'tap'
import type { Connection } from 'mysql2/promise'
import { createDemoErp, demoConfigYaml } from '@sisporta/cli'
import { eventually } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'
import { checkMirror } from '../support/mirror-check.js'

// `sisporta dlq replay` really applies the batch: no later full load covers for it. The target
// refuses some rows (a trigger, as an application's rule would); their batches are dead-lettered
// while the load stays sealed (no reconciler runs yet, and SISPORTA_APPLY_TIMEOUT is long); the
// rule is dropped and the letters replayed; only then the reconciler starts, finds every batch
// of the load applied, and reconciles it: the refused rows are in the target, written by that
// very load, which is the stream's last. The persister bisects the refused batches, so each
// letter holds only the refused rows; its replay completes its batch, which is then booked whole
// (docs/dead-letters.md). With the reconciler running, the load fails at once instead and the
// replay goes into the failed load: tests/e2e/dlq-tools.test.ts.
const SIZE = { products: 10, customers: 300 }

async function fill (sql: Connection): Promise<void> {
  await createDemoErp(sql, SIZE)
}

t.test('dlq replay – replayed batches are applied into their still-sealed load, which then reconciles with the rows', async (t) => {
  const p = await startPipeline(t, {
    configYaml: demoConfigYaml(),
    fillSource: fill,
    env: { SISPORTA_BATCH_SIZE: '25', SISPORTA_APPLY_TIMEOUT: '86400', SISPORTA_OPEN_TIMEOUT: '86400' },
    services: ['gateway', 'persister']
  })
  const [[{ n: refused }]] = await p.source.query("SELECT COUNT(*) AS n FROM Clientes WHERE Cidade = 'Kraków'") as unknown as [[{ n: string }]]
  t.ok(Number(refused) > 0, `${refused} source rows the target will refuse`)
  for (const when of ['INSERT', 'UPDATE']) {
    await p.target.query(`CREATE TRIGGER refuse_krakow_${when.toLowerCase()} BEFORE ${when} ON customers FOR EACH ROW IF NEW.city = 'Kraków' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'city Kraków refused by a trigger'; END IF`)
  }

  // extract without --wait: it sends and seals; nobody decides about the load yet
  const extract = await p.cli(['extract', '--stream', 'customers', '--mode', 'full'])
  t.equal(extract.code, 0, 'the load is sent and sealed', { stderr: extract.stderr.slice(-2000) })
  const load = (await p.loads('customers')).at(-1)!
  t.match(load, { state: 'sealed' })
  const jsm = await p.nc.jetstreamManager()
  const letters = await eventually(async () => {
    const info = await jsm.consumers.info(p.names.batchStream, p.names.persisterConsumer)
    if (info.num_pending > 0 || info.num_ack_pending > 0) return undefined
    const list = JSON.parse((await p.cli(['dlq', 'list', '--stream', 'customers', '--json'])).stdout) as { seq: number, loadId: number, batch: number, reason: string }[]
    return list.length > 0 ? list : undefined
  }, { what: 'the persister to settle every batch, some as dead letters', timeoutMs: 180_000 })
  t.ok(letters.every((l) => l.loadId === load.id && /city Kraków refused/.test(l.reason)), `${letters.length} dead letter(s) of load ${load.id}, with MySQL's reason`, { letters })
  const [[{ n: before }]] = await p.target.query("SELECT COUNT(*) AS n FROM customers WHERE city = 'Kraków'") as unknown as [[{ n: string }]]
  t.equal(Number(before), 0, 'the refused rows are not in the target')
  t.equal((await p.loads('customers')).at(-1)!.state, 'sealed', 'the load still waits for its batches')

  await p.target.query('DROP TRIGGER refuse_krakow_insert')
  await p.target.query('DROP TRIGGER refuse_krakow_update')
  for (const letter of letters) {
    const replay = await p.cli(['dlq', 'replay', String(letter.seq)])
    t.equal(replay.code, 0, `dlq replay ${letter.seq} (batch ${letter.batch})`, { stderr: replay.stderr.slice(-1000) })
  }
  await eventually(async () => {
    const [[{ n }]] = await p.target.query('SELECT COUNT(*) AS n FROM sisporta_batches WHERE stream = ? AND load_id = ?', ['customers', load.id]) as unknown as [[{ n: string }]]
    return Number(n) === load.batches ? true : undefined
  }, { what: `all ${load.batches} batches of load ${load.id} booked`, timeoutMs: 180_000 })
  t.same(JSON.parse((await p.cli(['dlq', 'list', '--json'])).stdout), [], 'no dead letter left')

  await p.start('reconciler')
  const done = await eventually(async () => {
    const l = (await p.loads('customers')).find((x) => x.id === load.id)
    return l?.state === 'reconciled' || l?.state === 'failed' ? l : undefined
  }, { what: `load ${load.id} to be reconciled`, timeoutMs: 180_000 })
  t.match(done, { state: 'reconciled', appliedBatches: load.batches, appliedRows: load.rows })
  t.equal((await p.loads('customers')).at(-1)!.id, load.id, 'no later load of the stream: nothing else wrote these rows')
  const [stamps] = await p.target.query("SELECT DISTINCT _sisporta_load AS stamp FROM customers WHERE city = 'Kraków'") as unknown as [{ stamp: string }[]]
  t.same(stamps.map((r) => Number(r.stamp)), [load.id], 'the once-refused rows are there, written by this load')
  const report = await checkMirror(p.config.stream('customers')!, { sourceUrl: p.sourceUrl, targetUrl: p.targetUrl })
  t.same({ equal: report.equal, rows: report.targetRows }, { equal: true, rows: SIZE.customers }, 'customers mirrors the source exactly', { report })
})
