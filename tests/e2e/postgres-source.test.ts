import t from 'tap'
import { demoConfigYaml } from '@sisporta/cli'
import { testPostgresDatabase } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'
import { EXTREME_PRODUCT, checkExtremeProduct } from '../support/extreme-row.js'
import { changePostgresErp, createPostgresErp } from '../support/postgres-erp.js'

// The same expectations as full-load.test.ts, with the ERP in PostgreSQL: the services as
// separate processes, the same config, value-for-value equality in MySQL.
const SIZE = { products: 300, customers: 200 }

t.test('pipeline from a PostgreSQL source', async (t) => {
  const pg = await testPostgresDatabase(t, 'sisporta_e2e_pg')
  await createPostgresErp(pg.sql, SIZE, [EXTREME_PRODUCT])
  const p = await startPipeline(t, { configYaml: demoConfigYaml(), sourceUrl: pg.url, env: { SISPORTA_BATCH_SIZE: '100' } })

  await t.test('full load – every stream lands value for value identical', async (t) => {
    for (const stream of p.config.streams) {
      const result = await p.extract(stream.name)
      t.equal(result.code, 0, `extract ${stream.name} exits 0`, { stderr: result.stderr.slice(-2000) })
    }
    await p.expectMirror(t)
    await checkExtremeProduct(t, p.target)
  })

  await t.test('second full load – updates, inserts and deletes reach the target', async (t) => {
    const { deletedProducts } = await changePostgresErp(pg.sql, SIZE)
    for (const stream of p.config.streams) {
      const result = await p.extract(stream.name)
      t.equal(result.code, 0, `extract ${stream.name} exits 0`, { stderr: result.stderr.slice(-2000) })
    }
    await p.expectMirror(t)
    const last = (await p.loads('products')).at(-1)!
    t.equal(last.deletedRows, deletedProducts, 'the load deleted exactly the rows the ERP deleted')
  })
})
