import t, { type Test } from 'tap'
import type { StreamConfig } from '@sisporta/contracts'
import { createLogger } from '@sisporta/observability'
import { createSourceDialect, type KeyValues, type SourceDialect, type ValuesChanged, type WireRow } from '@sisporta/source'
import { logSink, testDatabase } from '@sisporta/testkit'
import { GatewayClient, runLoad } from '../src/index.js'
import { startGateway, stream, token } from './items-gateway.js'

// The seal carries what the source changed on purpose (issue 12, defect 4): SQL Server's
// `fraction: truncate` counts the datetime values it cut to the microsecond, and run-load puts
// that count in the seal, so that it lands in the load record. The source here is a real MariaDB
// database read by the real MySQL dialect; since that dialect never changes a value, the test
// wraps it in a dialect that also counts "cut" values the way the SQL Server one does: over the
// rows its pages hand out, known only once the last page has been read.


/** The real dialect, plus a count of the rows handed out since the load's first page whose id is a multiple of 7. */
class CountingDialect implements SourceDialect {
  readonly engine: string
  readonly #inner: SourceDialect
  #cut = 0
  asked = 0
  constructor (inner: SourceDialect) {
    this.#inner = inner
    this.engine = inner.engine
  }

  describe (s: StreamConfig): ReturnType<SourceDialect['describe']> { return this.#inner.describe(s) }
  estimateRows (s: StreamConfig): Promise<number | undefined> { return this.#inner.estimateRows(s) }
  close (): Promise<void> { return this.#inner.close() }
  async readPage (s: StreamConfig, after: KeyValues | undefined, limit: number): Promise<WireRow[]> {
    if (after === undefined) this.#cut = 0
    const rows = await this.#inner.readPage(s, after, limit)
    this.#cut += rows.filter((r) => (r[0] as number) % 7 === 0).length
    return rows
  }

  valuesChanged (): ValuesChanged {
    this.asked++
    return { truncatedFractions: this.#cut }
  }
}


async function itemsSource (t: Test, count: number): Promise<string> {
  const { url, sql } = await testDatabase(t, 'sisporta_x')
  await sql.query('CREATE TABLE items (id INT PRIMARY KEY, note TEXT)')
  await sql.query('INSERT INTO items VALUES ?', [Array.from({ length: count }, (_, i) => [i + 1, `nota ${i + 1}`])])
  return url
}

const quiet = () => createLogger({ service: 'extractor', destination: logSink().stream })

t.test('run load – seals with the count of values the source cut, counted over every page, and the load record keeps it', async (t) => {
  const sourceUrl = await itemsSource(t, 1234)
  const gw = await startGateway(t)
  const source = new CountingDialect(createSourceDialect(sourceUrl))
  t.teardown(() => source.close())
  const sealed = await runLoad({ source, gateway: new GatewayClient({ url: gw.url, token }), log: quiet() }, stream, { mode: 'full', batchSize: 200, inFlight: 2 })
  t.match(sealed, { state: 'sealed', batches: 7, rows: 1234, truncatedFractions: 176 }, 'floor(1234 / 7) values, all seven pages counted')
  t.equal(source.asked, 1, 'asked once, after the last page')
  t.equal((await gw.registry.get('items', sealed.id))?.load.truncatedFractions, 176, 'in the load record')

  // the next load counts from zero again
  const again = await runLoad({ source, gateway: new GatewayClient({ url: gw.url, token }), log: quiet() }, { ...stream }, { mode: 'full', batchSize: 50, inFlight: 1 })
  t.equal(again.truncatedFractions, 176, 'the same rows: the same count, not twice it')
})

t.test('run load – a source that changes no value seals without a count', async (t) => {
  const sourceUrl = await itemsSource(t, 6)
  const gw = await startGateway(t)
  const real = createSourceDialect(sourceUrl)
  t.teardown(() => real.close())
  t.equal(real.valuesChanged, undefined, 'the MySQL dialect reports nothing')
  const sealed = await runLoad({ source: real, gateway: new GatewayClient({ url: gw.url, token }), log: quiet() }, stream, { mode: 'full', batchSize: 100, inFlight: 1 })
  t.match(sealed, { state: 'sealed', batches: 1, rows: 6 })
  t.notOk('truncatedFractions' in sealed, 'no count in the record')

  const none = new CountingDialect(createSourceDialect(sourceUrl))
  t.teardown(() => none.close())
  const zero = await runLoad({ source: none, gateway: new GatewayClient({ url: gw.url, token }), log: quiet() }, stream, { mode: 'full', batchSize: 100, inFlight: 1 })
  t.equal(none.asked, 1)
  t.notOk('truncatedFractions' in zero, 'a count of 0 is left out of the seal and the record')
})
