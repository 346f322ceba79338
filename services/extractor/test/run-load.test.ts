import t, { type Test } from 'tap'
import { createLogger } from '@sisporta/observability'
import { createSourceDialect } from '@sisporta/source'
import { eventually, freeLoopbackPort, logSink, testDatabase } from '@sisporta/testkit'
import { GatewayClient, encodeBatches, runLoad, waitForLoad } from '../src/index.js'
import { startGateway, stream, token } from './items-gateway.js'

t.test('run load – reads the source in pages, posts every batch, seals with the counts', async (t) => {
  const { url: sourceUrl, sql } = await testDatabase(t, 'sisporta_x')
  await sql.query('CREATE TABLE items (id INT PRIMARY KEY, note TEXT)')
  await sql.query('INSERT INTO items VALUES ?', [Array.from({ length: 2345 }, (_, i) => [i + 1, `nota ${i + 1} ☕`])])
  const gw = await startGateway(t)
  const source = createSourceDialect(sourceUrl)
  t.teardown(() => source.close())
  const progress: number[] = []
  const sealed = await runLoad({ source, gateway: new GatewayClient({ url: gw.url, token }), log: createLogger({ service: 'extractor', destination: logSink().stream }) }, stream, {
    mode: 'full', batchSize: 500, inFlight: 3, onProgress: (p) => progress.push(p.rows)
  })
  t.equal(sealed.state, 'sealed')
  t.equal(sealed.batches, 5)
  t.equal(sealed.rows, 2345)
  t.equal(await gw.messages(), 5, 'five batches on the bus')
  t.equal(progress.at(-1), 2345, 'progress reaches every row')
})

t.test('run load – a page with huge values is split into batches under the byte limit', async (t) => {
  const rows = Array.from({ length: 10 }, (_, i) => [i, 'x'.repeat(300_000)])
  const bodies = encodeBatches(['id', 'note'], rows, 960_000, (r) => String(r[0])).map((b) => b.toString('utf8'))
  t.ok(bodies.length >= 4, `split into ${bodies.length} bodies`)
  t.ok(bodies.every((b) => Buffer.byteLength(b) <= 960_000), 'each under the limit')
  t.same(bodies.flatMap((b) => (JSON.parse(b) as { rows: unknown[][] }).rows.map((r) => r[0])), rows.map((r) => r[0]), 'every row once, in order')
  const small = [[1, 'ação ☕'], [2, null]]
  t.same(encodeBatches(['id', 'note'], small, 960_000, () => '').map((b) => b.toString('utf8')), [JSON.stringify({ columns: ['id', 'note'], rows: small })], 'a page that fits is one body, exactly its JSON')
  t.throws(() => encodeBatches(['id', 'note'], [[1, 'x'.repeat(2_000_000)]], 960_000, () => '[1]'), { code: 'SIS_EXTRACT_ROW_TOO_LARGE', message: /row \[1\] is \d+ bytes/ })
})

t.test('gateway client – retries while the gateway is down, succeeds once it is up', async (t) => {
  const port = await freeLoopbackPort()
  const client = new GatewayClient({ url: `http://127.0.0.1:${port}`, token, baseDelayMs: 100 })
  const retries: string[] = []
  const retrying = new GatewayClient({ url: `http://127.0.0.1:${port}`, token, baseDelayMs: 100, onRetry: (r) => retries.push(r.reason) })
  const opening = retrying.openLoad('items', 'full')
  await eventually(() => retries.length > 0 ? true : undefined, { what: 'the client to retry', timeoutMs: 120_000 })
  await startGateway(t, port)
  const load = await opening
  t.equal(load.state, 'open')
  t.ok(retries.length > 0, 'it retried')
  t.match(retries[0], /ECONNREFUSED/)
  const reread = await client.getLoad('items', load.id)
  t.equal(reread.id, load.id)
})

t.test('gateway client – a 4xx is a definite answer, not retried', async (t) => {
  const gw = await startGateway(t)
  let retries = 0
  const client = new GatewayClient({ url: gw.url, token, onRetry: () => { retries++ } })
  const load = await client.openLoad('items', 'full')
  await t.rejects(client.postBatch('items', load.id, 0, JSON.stringify({ columns: ['id', 'note'], rows: [[1.5, 'x']] })), {
    code: 'SIS_EXTRACT_REJECTED', statusCode: 400, message: /row 0, column 'id'/
  })
  const bad = new GatewayClient({ url: gw.url, token: 'not-a-jwt' })
  await t.rejects(bad.openLoad('items', 'full'), { code: 'SIS_EXTRACT_REJECTED', statusCode: 401, exitCode: 2 })
  t.equal(retries, 0)
})

t.test('wait for load – returns at a final state, and on held', async (t) => {
  const gw = await startGateway(t)
  const client = new GatewayClient({ url: gw.url, token })
  const load = await client.openLoad('items', 'full')
  const seen: string[] = []
  const waiting = waitForLoad(client, load, { pollMs: 50, onChange: (l) => seen.push(l.state) })
  await gw.registry.transition('items', load.id, (l) => ({ ...l, state: 'sealed', batches: 0, rows: 0 }))
  await gw.registry.transition('items', load.id, (l) => ({ ...l, state: 'applied' }))
  await gw.registry.transition('items', load.id, (l) => ({ ...l, state: 'held', absentRows: 5, tableRows: 6 }))
  const final = await waiting
  t.equal(final.state, 'held')
  t.ok(seen.includes('held'))
})
