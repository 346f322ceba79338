import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Connection } from 'mysql2/promise'
import { headers as natsHeaders } from 'nats'
import { BatchHeaders, type LoadRecord } from '@sisporta/contracts'
import { changeDemoErp, createDemoErp, demoConfigYaml } from '@sisporta/cli'
import { eventually } from '@sisporta/testkit'
import { countRows as count, startPipeline } from '../support/pipeline.js'
import { EXTREME_PRODUCT, checkExtremeProduct } from '../support/extreme-row.js'

// One pipeline for the whole file: the four services as separate processes over real NATS and
// MariaDB. Subtests run in order and build on each other's loads, like an operator's day.
const SIZE = { products: 400, customers: 250 }

async function fill (sql: Connection): Promise<void> {
  await createDemoErp(sql, SIZE)
  await sql.query('INSERT INTO Produtos VALUES ?', [[EXTREME_PRODUCT]])
}



t.test('pipeline', async (t) => {
  const p = await startPipeline(t, {
    configYaml: demoConfigYaml(),
    fillSource: fill,
    // short timeouts so unsealed and incomplete loads reach their end state within the test
    env: { SISPORTA_OPEN_TIMEOUT: '4', SISPORTA_APPLY_TIMEOUT: '4', SISPORTA_BATCH_SIZE: '100' },
    services: ['gateway', 'persister', 'reconciler', 'extractor']
  })

  await t.test('full load – every stream lands value for value identical', async (t) => {
    for (const stream of p.config.streams) {
      const result = await p.extract(stream.name)
      t.equal(result.code, 0, `extract ${stream.name} exits 0`, { stderr: result.stderr.slice(-2000) })
      t.match(result.stdout, /reconciled/, 'the summary says the load was reconciled')
    }
    await p.expectMirror(t)
  })

  await t.test('full load – extreme values survive to the last digit and microsecond', async (t) => {
    await checkExtremeProduct(t, p.target)
    const [nulls] = await p.target.query('SELECT COUNT(*) AS n FROM products WHERE avg_cost IS NULL') as unknown as [{ n: string }[]]
    const [srcNulls] = await p.source.query('SELECT COUNT(*) AS n FROM Produtos WHERE CustoMedio IS NULL') as unknown as [{ n: string }[]]
    t.ok(Number(nulls[0]!.n) > 0, 'some NULLs in the data')
    t.equal(nulls[0]!.n, srcNulls[0]!.n, 'NULLs kept')
  })

  await t.test('second full load – updates, inserts and deletes reach the target', async (t) => {
    const changes = await changeDemoErp(p.source, SIZE)
    t.ok(changes.products!.deleted > 0 && changes.products!.updated > 0, 'the ERP deleted and updated rows')
    for (const stream of p.config.streams) {
      const result = await p.extract(stream.name)
      t.equal(result.code, 0, `extract ${stream.name} exits 0`, { stderr: result.stderr.slice(-2000) })
    }
    await p.expectMirror(t)
    const last = (await p.loads('products')).at(-1)!
    t.same(await p.loadsViaCli('products'), await p.loads('products'), 'sisporta loads list --json shows the registry\'s loads')
    t.equal(last.state, 'reconciled')
    t.equal(last.deletedRows, changes.products!.deleted, 'the load deleted exactly the rows the ERP deleted')
  })

  await t.test('a load that is never sealed deletes nothing', async (t) => {
    const before = await count(p.target, 'customers')
    const gateway = p.services.get('gateway')!.url
    const auth = { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' }
    const open = await fetch(`${gateway}/v1/streams/customers/loads`, { method: 'POST', headers: auth, body: JSON.stringify({ mode: 'full' }) })
    t.equal(open.status, 201)
    const { load } = await open.json() as { load: LoadRecord }
    const batch = await fetch(`${gateway}/v1/streams/customers/loads/${load.id}/batches/0`, {
      method: 'POST', headers: auth, body: JSON.stringify({ columns: ['id', 'name', 'balance', 'created_at'], rows: [[1, 'só um', '1.00', '2020-01-01T00:00:00']] })
    })
    t.equal(batch.status, 202)
    const abandoned = await eventually(async () => {
      const l = (await p.loads('customers')).find((x) => x.id === load.id)
      return l?.state === 'abandoned' ? l : undefined
    }, { timeoutMs: 30_000, what: 'the unsealed load to be abandoned' })
    t.equal(abandoned.deletedRows, undefined, 'nothing deleted')
    t.equal(await count(p.target, 'customers'), before, 'every row is still there')
  })

  await t.test('a load sealed with a missing batch deletes nothing', async (t) => {
    const before = await count(p.target, 'customers')
    const gateway = p.services.get('gateway')!.url
    const auth = { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' }
    const { load } = await (await fetch(`${gateway}/v1/streams/customers/loads`, { method: 'POST', headers: auth, body: JSON.stringify({ mode: 'full' }) })).json() as { load: LoadRecord }
    for (const n of [0, 2]) {
      const res = await fetch(`${gateway}/v1/streams/customers/loads/${load.id}/batches/${n}`, {
        method: 'POST', headers: auth, body: JSON.stringify({ columns: ['id', 'name', 'balance', 'created_at'], rows: [[n + 1, `cliente ${n + 1}`, '1.00', '2020-01-01T00:00:00']] })
      })
      t.equal(res.status, 202)
    }
    const sealed = await fetch(`${gateway}/v1/streams/customers/loads/${load.id}/seal`, { method: 'POST', headers: auth, body: JSON.stringify({ batches: 3, rows: 3 }) })
    t.equal(sealed.status, 200)
    const failed = await eventually(async () => {
      const l = (await p.loads('customers')).find((x) => x.id === load.id)
      return l?.state === 'failed' ? l : undefined
    }, { timeoutMs: 30_000, what: 'the incomplete load to fail' })
    t.match(failed.reason, /1/, 'the reason names the missing batch')
    t.equal(await count(p.target, 'customers'), before, 'every row is still there')
  })

  await t.test('a redelivered batch changes nothing', async (t) => {
    // Apply one more load, then publish one of its batches again under a new message id (as a
    // crash between commit and ack would redeliver it) after an operator-visible change to a row.
    // Every row sent (`--reload rows`): a diffed reload of the unchanged stream would send no batch 0.
    const result = await p.extract('price_list', ['--reload', 'rows'])
    t.equal(result.code, 0)
    const last = (await p.loads('price_list')).at(-1)!
    await p.target.query('UPDATE price_list SET price = 0.0001 WHERE list = ? AND sku = ?', ['VAR1', 'P000001'])
    const h = natsHeaders()
    h.set(BatchHeaders.Stream, 'price_list')
    h.set(BatchHeaders.Load, String(last.id))
    h.set(BatchHeaders.Batch, '0')
    h.set(BatchHeaders.Mode, 'full')
    h.set(BatchHeaders.Rows, '1')
    const body = JSON.stringify({ columns: ['list', 'sku', 'price', 'currency', 'valid_from'], rows: [['VAR1', 'P000001', '5.0000', 'BRL', '2024-01-01']] })
    const js = p.nc.jetstream()
    await js.publish(p.names.batchSubject('price_list'), new TextEncoder().encode(body), { headers: h, msgID: `redelivery-${Date.now()}` })
    const jsm = await p.nc.jetstreamManager()
    await eventually(async () => {
      const info = await jsm.consumers.info(p.names.batchStream, p.names.persisterConsumer)
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined
    }, { what: 'the persister to consume the redelivered batch' })
    await sleep(200)
    const [rows] = await p.target.query('SELECT price FROM price_list WHERE list = ? AND sku = ?', ['VAR1', 'P000001']) as unknown as [{ price: string }[]]
    t.equal(rows[0]!.price, '0.0001', 'the replayed batch did not write again')
  })

  await t.test('a batch forged onto the bus and a forged registry record change nothing', async (t) => {
    const checksum = async (): Promise<string> => {
      const [rows] = await p.target.query('SELECT COUNT(*) AS n, SUM(CRC32(CONCAT_WS(0x1f, sku, name, _sisporta_load))) AS c FROM products') as unknown as [{ n: string, c: string }[]]
      return `${rows[0]!.n}/${rows[0]!.c}`
    }
    const before = await checksum()
    const [[victim]] = await p.target.query('SELECT sku FROM products ORDER BY sku LIMIT 1') as unknown as [{ sku: string }[]]
    const forgedId = 1_000_000_000_000
    // a batch with a huge load id: applied, its stamp would shield the row from every later load
    const h = natsHeaders()
    h.set(BatchHeaders.Stream, 'products')
    h.set(BatchHeaders.Load, String(forgedId))
    h.set(BatchHeaders.Batch, '0')
    h.set(BatchHeaders.Mode, 'full')
    h.set(BatchHeaders.Rows, '1')
    // a valid batch in every other respect: the key and one column (a batch may carry a subset)
    await p.nc.jetstream().publish(p.names.batchSubject('products'), new TextEncoder().encode(JSON.stringify({ columns: ['sku', 'name'], rows: [[victim!.sku, 'forged']] })), { headers: h, msgID: `forged-${forgedId}` })
    // an approved full load record that no gateway opened: reconciling it would delete the whole table
    const kv = await p.nc.jetstream().views.kv(p.names.loadsBucket, { bindOnly: true })
    const now = new Date().toISOString()
    await kv.put(`load.products.${forgedId + 1}`, new TextEncoder().encode(JSON.stringify({ id: forgedId + 1, stream: 'products', mode: 'full', state: 'approved', openedAt: now, updatedAt: now, approvedBy: 'mallory' })))
    const letter = await eventually(async () => {
      const letters = JSON.parse((await p.cli(['dlq', 'list', '--stream', 'products', '--json'])).stdout) as { seq: number, loadId: number, reason: string }[]
      return letters.find((l) => l.loadId === forgedId)
    }, { timeoutMs: 120_000, what: 'the forged batch to be dead-lettered' })
    t.match(letter.reason, /SIS_PERSIST_LOAD_UNKNOWN: .*load id 1000000000000 is above the registry's sequence/)
    t.equal(await checksum(), before, 'the target is untouched: no row written, no row deleted')
    t.notOk((await p.loads('products')).some((l) => l.id > forgedId), 'the forged record is not a load anyone lists')
    const result = await p.extract('products')
    t.equal(result.code, 0, 'the next full load completes (not superseded by the forged one)', { stderr: result.stderr.slice(-2000) })
    await p.expectMirror(t, 'products')
    t.equal((await p.cli(['dlq', 'drop', String(letter.seq)])).code, 0)
  })

  await t.test('delete guard – a load that would delete too much is held, extract exits 1, approve deletes', async (t) => {
    await p.source.query('DELETE FROM Produtos WHERE MOD(CAST(SUBSTRING(ProdCode, 2) AS UNSIGNED), 2) = 0')
    const result = await p.extract('products')
    t.equal(result.code, 1, 'extract --wait exits 1')
    t.match(result.stderr, /is held: it would delete \d+ of \d+ rows/, 'says the load is held and how many rows')
    t.match(result.stderr, /sisporta loads approve \d+/, 'says how to approve')
    t.match(result.stderr, /sisporta loads discard \d+/, 'says how to discard')
    const held = (await p.loads('products')).at(-1)!
    t.equal(held.state, 'held')
    const before = await count(p.target, 'products')
    t.ok(before > Number(held.rows), 'nothing deleted while held')
    const approve = await p.cli(['loads', 'approve', String(held.id)])
    t.equal(approve.code, 0, 'loads approve exits 0')
    await eventually(async () => {
      const l = (await p.loads('products')).find((x) => x.id === held.id)
      return l?.state === 'reconciled' ? l : undefined
    }, { timeoutMs: 30_000, what: 'the approved load to be reconciled' })
    // (the other streams were deliberately disturbed by the tests above)
    await p.expectMirror(t, 'products')
  })

  await t.test('dead letters – a batch MySQL refuses is set aside with its reason, replayed once fixed', async (t) => {
    // The target refuses one value (as a constraint added by the application's team would).
    for (const when of ['INSERT', 'UPDATE']) {
      await p.target.query(`CREATE TRIGGER refuse_krakow_${when.toLowerCase()} BEFORE ${when} ON customers FOR EACH ROW IF NEW.city = 'Kraków' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'city Kraków refused by a trigger'; END IF`)
    }
    // every row sent, so that the refused row reaches the persister in a batch (a diffed load
    // would not send the row if unchanged, and a trigger refusing its mark fails the comparison)
    const result = await p.extract('customers', ['--reload', 'rows'])
    t.equal(result.code, 1, 'the load cannot complete')
    t.match(result.stderr, /ended failed/, 'and says so')
    const { stdout } = await p.cli(['dlq', 'list', '--stream', 'customers', '--json'])
    const letters = JSON.parse(stdout) as { seq: number, reason: string, stream: string }[]
    t.ok(letters.length > 0, `${letters.length} dead letter(s)`)
    t.match(letters[0]!.reason, /city Kraków refused/, 'the reason is MySQL\'s')
    const status = JSON.parse((await p.cli(['status', '--json'])).stdout) as { streams: { name: string, deadLetters: number }[] }
    t.equal(status.streams.find((s) => s.name === 'customers')!.deadLetters, letters.length, 'status counts them')
    await p.target.query('DROP TRIGGER refuse_krakow_insert')
    await p.target.query('DROP TRIGGER refuse_krakow_update')
    // the load failed, yet a replay is applied into it (docs/dead-letters.md; tests/e2e/dlq-tools.test.ts); the rest are dropped
    const replay = await p.cli(['dlq', 'replay', String(letters[0]!.seq)])
    t.equal(replay.code, 0, 'dlq replay applies a letter into its failed load')
    t.match(replay.stdout, /1 replayed, 0 refused\n$/)
    for (const letter of letters.slice(1)) {
      const drop = await p.cli(['dlq', 'drop', String(letter.seq)])
      t.equal(drop.code, 0, `dlq drop ${letter.seq}`)
    }
    t.same(JSON.parse((await p.cli(['dlq', 'list', '--json'])).stdout), [], 'nothing left in the dead-letter stream')
    const again = await p.extract('customers')
    t.equal(again.code, 0, 'the next load of the stream completes')
    await p.expectMirror(t, 'customers')
  })

  await t.test('services – health, readiness, metrics, and a clean stop on SIGTERM', async (t) => {
    for (const [name, service] of p.services) {
      t.equal((await fetch(`${service.url}/healthz`)).status, 200, `${name} /healthz`)
      t.equal((await fetch(`${service.url}/readyz`)).status, 200, `${name} /readyz`)
      const metrics = await (await fetch(`${service.url}/metrics`)).text()
      t.match(metrics, /sisporta_process_resident_memory_bytes\{service="\w+"\}/, `${name} /metrics`)
    }
    for (const [name, service] of p.services) {
      t.equal(await service.stop(30_000), 0, `${name} exits 0 on SIGTERM`)
      p.services.delete(name)
    }
    // no secret in any log of the whole run
    const logs = readdirSync(p.dir).filter((f) => f.endsWith('.log')).map((f) => readFileSync(join(p.dir, f), 'utf8')).join('\n')
    t.ok(logs.length > 1000, 'the services logged')
    for (const [what, secret] of [['the token', p.token], ['the token\'s signature', p.token.split('.')[2]!], ['the JWT secret', p.env.SISPORTA_JWT_SECRET!]] as const) {
      t.notOk(logs.includes(secret), `${what} appears in no log line`)
    }
  })
})
