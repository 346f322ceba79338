import t, { type Test } from 'tap'
import { createSigner } from 'fast-jwt'
import { parseConfig } from '@sisporta/config'
import type { LoadRecord, StreamConfig } from '@sisporta/contracts'
import { buildGatewayApp } from '@sisporta/gateway'
import { LoadRegistry } from '@sisporta/nats'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { SourceError, createSourceDialect, type SourceDialect } from '@sisporta/source'
import { eventually, logSink, testBus, testDatabase } from '@sisporta/testkit'
import { ExtractError, GatewayClient, runLoad } from '../src/index.js'

// A failure once a load is open abandons it at once, with the reason: the real gateway on a real
// NATS namespace, a real MariaDB source. Faults the servers do not make on demand (a page read
// that crashes, a key that does not advance, a read still running at SIGTERM) come from a thin
// wrapper around the real MariaDB dialect.

const SECRET = 'failed-load-test-secret-long-enough-for-hs256'
const token = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 })({ sub: 'erp-extractor', streams: ['*'] })
const config = parseConfig(`
streams:
  - name: items
    source: { table: items }
    target: { table: items, key: [id] }
    columns:
      - { name: id,   from: id,   type: int }
      - { name: note, from: note, type: string }
      - { name: at,   from: at,   type: datetime }
  - name: docs
    source: { table: docs }
    target: { table: docs, key: [id] }
    columns:
      - { name: id,  from: id,  type: int }
      - { name: doc, from: doc, type: json }
`, 'test.yaml', {})
const items = config.stream('items')!
const docs = config.stream('docs')!

interface Env {
  registry: LoadRegistry
  gateway: GatewayClient
  source: SourceDialect
  sql: Awaited<ReturnType<typeof testDatabase>>['sql']
  logs: Record<string, unknown>[]
  run: (stream: StreamConfig, options?: { source?: SourceDialect, signal?: AbortSignal, onProgress?: (p: { batches: number }) => void, readAttempts?: number }) => Promise<LoadRecord>
  loads: (stream: string) => Promise<LoadRecord[]>
}

/** A gateway on a fresh namespace, a MariaDB source with 250 items (50 a page) and a docs table. */
async function setup (t: Test): Promise<Env> {
  const { nc, names } = await testBus(t)
  const app = await buildGatewayApp({ config, nc, names, log: createLogger({ service: 'gateway', level: 'warn', destination: logSink().stream }), metrics: createMetricsRegistry('gateway'), auth: { secret: SECRET } })
  t.teardown(async () => { await app.close() })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const { url: sourceUrl, sql } = await testDatabase(t, 'sisporta_x')
  await sql.query('CREATE TABLE items (id INT PRIMARY KEY, note VARCHAR(40), at DATETIME(6))')
  await sql.query('INSERT INTO items VALUES ?', [Array.from({ length: 250 }, (_, i) => [i + 1, `nota ${i + 1}`, '2024-05-01 10:00:00.000001'])])
  await sql.query('CREATE TABLE docs (id INT PRIMARY KEY, doc LONGTEXT)')
  await sql.query('INSERT INTO docs VALUES ?', [Array.from({ length: 120 }, (_, i) => [i + 1, JSON.stringify({ n: i + 1 })])])
  const source = createSourceDialect(sourceUrl)
  t.teardown(() => source.close())
  const sink = logSink()
  const log = createLogger({ service: 'extractor', level: 'info', destination: sink.stream })
  const gateway = new GatewayClient({ url, token, baseDelayMs: 50 })
  const registry = await LoadRegistry.bind(nc, names)
  return {
    registry,
    gateway,
    source,
    sql,
    logs: sink.lines,
    run: async (stream, options = {}) => await runLoad({ source: options.source ?? source, gateway, log }, stream, {
      mode: 'full', batchSize: 50, inFlight: 2, ...(options.signal !== undefined ? { signal: options.signal } : {}), ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}), ...(options.readAttempts !== undefined ? { readAttempts: options.readAttempts } : {})
    }),
    loads: async (stream) => await registry.list({ stream })
  }
}

/** The real dialect, with `readPage` replaced for the page reads this test scripts (1 = the first). */
function faulty (real: SourceDialect, onRead: (read: number, proceed: () => ReturnType<SourceDialect['readPage']>) => ReturnType<SourceDialect['readPage']>): SourceDialect {
  let reads = 0
  return {
    engine: real.engine,
    describe: async (s) => await real.describe(s),
    estimateRows: async (s) => await real.estimateRows(s),
    close: async () => {},
    readPage: async (s, after, limit) => await onRead(++reads, async () => await real.readPage(s, after, limit))
  }
}

/** A promise the test releases by hand. */
function gate (): { wait: Promise<void>, open: () => void } {
  let open: () => void = () => {}
  const wait = new Promise<void>((resolve) => { open = resolve })
  return { wait, open }
}

t.test('failed load – a source value that cannot be converted abandons the load at once, with the reason', async (t) => {
  const env = await setup(t)
  // a zero date, as legacy MySQL schemas hold them: no calendar date, so no wire value
  await env.sql.query('SET SESSION sql_mode = \'\'')
  await env.sql.query('UPDATE items SET at = \'0000-00-00 00:00:00\' WHERE id = 230')
  await t.rejects(env.run(items), { code: 'SIS_SRC_VALUE', message: /stream 'items', column 'at' .*row \{id: 230\}/ })
  const [load] = await env.loads('items')
  t.equal(load?.state, 'abandoned', 'abandoned as the extract failed, not SISPORTA_OPEN_TIMEOUT later')
  t.match(load?.reason, /^abandoned by its extractor \('erp-extractor'\): SIS_SRC_VALUE: stream 'items', column 'at' .*row \{id: 230\}/)
  t.equal(load?.sealedAt, undefined, 'never sealed: it deletes nothing')
  t.match(env.logs.find((l) => l.msg === 'load failed; abandoned it at once (it deletes nothing)'), { level: 'error', stream: 'items', loadId: load?.id, state: 'abandoned' })
})

t.test('failed load – a batch the gateway refuses (400) abandons the load at once', async (t) => {
  const env = await setup(t)
  // valid JSON the source reads, but nested deeper than the target (and so the gateway) takes
  await env.sql.query('UPDATE docs SET doc = ? WHERE id = 75', [`${'['.repeat(40)}1${']'.repeat(40)}`])
  await t.rejects(env.run(docs), { code: 'SIS_EXTRACT_REJECTED', statusCode: 400, gatewayCode: 'SIS_GW_BATCH_INVALID' })
  const [load] = await env.loads('docs')
  t.equal(load?.state, 'abandoned')
  t.match(load?.reason, /^abandoned by its extractor \('erp-extractor'\): SIS_EXTRACT_REJECTED: gateway refused batch 1 of load \d+: 400 SIS_GW_BATCH_INVALID .*nested deeper than 32/)
})

t.test('failed load – a page read that fails for good abandons the load at once', async (t) => {
  const env = await setup(t)
  const source = faulty(env.source, async (read, proceed) => {
    if (read === 3) throw new SourceError('SIS_SRC_VALUE', 'stream \'items\', column \'note\': the value cannot be carried', { stream: 'items', column: 'note' })
    return await proceed()
  })
  await t.rejects(env.run(items, { source }), { code: 'SIS_SRC_VALUE' })
  const [load] = await env.loads('items')
  t.match(load, { state: 'abandoned', reason: /SIS_SRC_VALUE: stream 'items', column 'note': the value cannot be carried/ })
})

t.test('failed load – a page read that keeps failing transiently is retried, then abandons the load naming the page', async (t) => {
  const env = await setup(t)
  const source = faulty(env.source, async (read, proceed) => {
    if (read >= 3) throw new SourceError('SIS_SRC_READ', 'stream \'items\': the connection to the source was lost (ECONNRESET)', { stream: 'items', transient: true })
    return await proceed()
  })
  await t.rejects(env.run(items, { source, readAttempts: 2 }), { code: 'SIS_SRC_READ' })
  const [load] = await env.loads('items')
  t.match(load, { state: 'abandoned', reason: /SIS_SRC_READ: stream 'items': could not read the page after key \{id: \d+\} in 2 attempts; the last error: stream 'items': the connection to the source was lost/ })
})

t.test('failed load – a key that does not advance stops the load with SIS_SRC_KEY (exit 1) and abandons it', async (t) => {
  const env = await setup(t)
  // a broken key comparison: whatever key the extractor continues after, the first page comes back
  const source = faulty(env.source, async (read, proceed) => {
    if (read > 10) throw new Error('read the same page ten times: the extract loops')
    return await env.source.readPage(items, undefined, 50)
  })
  await t.rejects(env.run(items, { source }), { code: 'SIS_SRC_KEY', exitCode: 1, message: /^stream 'items': the page read after key \{id: 50\} ends at key \{id: 50\}, which is the same key: .*target\.key \(id\)/ })
  const [load] = await env.loads('items')
  t.match(load, { state: 'abandoned', reason: /SIS_SRC_KEY: stream 'items': the page read after key \{id: 50\}/ })
})

t.test('failed load – the signal (SIGTERM) abandons the load at once, even with a page read still running', async (t) => {
  const env = await setup(t)
  const stuck = gate()
  t.teardown(stuck.open)
  const source = faulty(env.source, async (read, proceed) => {
    if (read === 3) await stuck.wait
    return await proceed()
  })
  const controller = new AbortController()
  const running = env.run(items, { source, signal: controller.signal, onProgress: (p) => { if (p.batches === 2) controller.abort(new ExtractError('SIS_EXTRACT_INTERRUPTED', 'interrupted by SIGTERM')) } })
  // the read stays stuck: only the signal can end the load within the minute
  const deadline = new Promise<never>((_resolve, reject) => { setTimeout(() => reject(new Error('still running a minute after the signal')), 60_000).unref() })
  await t.rejects(Promise.race([running, deadline]), { code: 'SIS_EXTRACT_INTERRUPTED', message: 'interrupted by SIGTERM' }, 'stops without waiting for the read')
  const [load] = await env.loads('items')
  t.match(load, { state: 'abandoned', reason: /\): SIS_EXTRACT_INTERRUPTED: interrupted by SIGTERM$/ })
})

t.test('failed load – a load someone else ended meanwhile is SIS_EXTRACT_LOAD_ENDED with its reason, and left as it is', async (t) => {
  const env = await setup(t)
  const paused = gate()
  const reached = gate()
  const source = faulty(env.source, async (read, proceed) => {
    if (read === 3) {
      reached.open()
      await paused.wait
    }
    return await proceed()
  })
  const running = env.run(items, { source })
  running.catch(() => {})
  await reached.wait
  const [open] = await env.loads('items')
  // as the reconciler does when one of the load's batches is dead-lettered
  await env.registry.transition('items', open!.id, (l) => ({ ...l, state: 'failed', reason: 'batch 0 was dead-lettered as #7: refused. Inspect it with `sisporta dlq show 7`' }))
  paused.open()
  await t.rejects(running, { code: 'SIS_EXTRACT_LOAD_ENDED', exitCode: 1, message: `load ${open!.id} of stream 'items' ended failed while it was being sent: batch 0 was dead-lettered as #7: refused. Inspect it with \`sisporta dlq show 7\`` })
  t.match((await env.loads('items'))[0], { state: 'failed', reason: /^batch 0 was dead-lettered as #7/ }, 'not abandoned over it')
})

t.test('failed load – a second extractor\'s load abandons the first one\'s, which stops saying so', async (t) => {
  const env = await setup(t)
  const paused = gate()
  const reached = gate()
  const slow = faulty(env.source, async (read, proceed) => {
    if (read === 2) {
      reached.open()
      await paused.wait
    }
    return await proceed()
  })
  const first = env.run(items, { source: slow })
  first.catch(() => {})
  await reached.wait
  const second = await env.run(items)
  t.match(second, { state: 'sealed', batches: 5, rows: 250 }, 'the second load goes through')
  paused.open()
  await t.rejects(first, { code: 'SIS_EXTRACT_LOAD_ENDED', message: new RegExp(`ended abandoned while it was being sent: load ${second.id} of this stream was opened by 'erp-extractor' at .* while this one was still open`) })
  const loads = await env.loads('items')
  t.same(loads.map((l) => l.state), ['abandoned', 'sealed'])
  await eventually(async () => env.logs.some((l) => l.msg === 'the load was ended by someone else while it was being sent') ? true : undefined, { what: 'the log line' })
})
