import t from 'tap'
import { createDemoErp, demoConfigYaml } from '@sisporta/cli'
import { eventually } from '@sisporta/testkit'
import { countRows as count, startPipeline } from '../support/pipeline.js'

// Crashes mid-load: the persister and then the gateway are killed with SIGKILL while a full
// load runs, and restarted. The extractor retries, JetStream redelivers what was not
// acknowledged, the bookkeeping makes redeliveries no-ops: the load ends reconciled and the
// target equals the source value for value, nothing deleted wrongly.
const SIZE = { products: 6000, customers: 10 }

t.test('crash – persister and gateway killed with SIGKILL mid-load: the load completes, target equals source', async (t) => {
  const p = await startPipeline(t, {
    configYaml: demoConfigYaml(),
    fillSource: async (sql) => { await createDemoErp(sql, SIZE) },
    env: { SISPORTA_BATCH_SIZE: '50', SISPORTA_PERSISTER_CONCURRENCY: '2' }
  })
  const total = await count(p.source, 'TabelaPrecos')
  const extract = p.extract('price_list')

  // the persister dies with batches in flight, some committed and not acknowledged
  const atPersisterKill = await eventually(async () => {
    const n = await count(p.target, 'price_list')
    return n >= total * 0.2 ? n : undefined
  }, { intervalMs: 20, what: 'a fifth of the rows in the target' })
  await p.services.get('persister')!.kill()
  t.ok(atPersisterKill < total, `persister killed mid-load (${atPersisterKill} of ${total} rows applied)`)
  await p.start('persister')

  // the gateway dies with batches being received and published; it comes back on its port
  const atGatewayKill = await eventually(async () => {
    const n = await count(p.target, 'price_list')
    return n >= total * 0.5 ? n : undefined
  }, { intervalMs: 20, what: 'half of the rows in the target' })
  const gateway = p.services.get('gateway')!
  await gateway.kill()
  t.ok(atGatewayKill < total, `gateway killed mid-load (${atGatewayKill} of ${total} rows applied)`)
  await p.start('gateway', { SISPORTA_HTTP_PORT: String(gateway.port) })

  const result = await extract
  t.equal(result.code, 0, 'extract --wait exits 0: applied and reconciled', { stderr: result.stderr.slice(-3000) })
  const [load] = (await p.loads('price_list')).slice(-1)
  t.equal(load?.state, 'reconciled')
  t.equal(load?.rows, total, 'every source row was sent')
  t.equal(load?.deletedRows ?? 0, 0, 'nothing deleted')
  t.equal(await count(p.target, 'price_list'), total, 'no row lost, none twice')
  await p.expectMirror(t, 'price_list')
})
