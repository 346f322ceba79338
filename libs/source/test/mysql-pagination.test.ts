/**
 * MySQL/MariaDB-only checks. Pagination, query streams and describe errors run for MariaDB in
 * source-pagination.test.ts, with the same bodies as for PostgreSQL.
 */
import t from 'tap'
import { engine, setUpOrderLines } from './engines.js'
import { stream } from './fixtures.js'

t.test('session – mysql: reads run read-only with READ COMMITTED; closed is closed', async (t) => {
  const { dialect } = await setUpOrderLines(t, engine('mysql'))
  const s = stream({
    name: 'session',
    source: { query: 'SELECT 1 AS id, @@session.tx_read_only AS ro, @@session.tx_isolation AS iso' },
    key: ['id'],
    columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'ro', from: 'ro', type: 'bool' }, { name: 'iso', from: 'iso', type: 'string' }]
  })
  t.same(await dialect.readPage(s, undefined, 10), [[1, true, 'READ-COMMITTED']])
  await dialect.close()
  await dialect.close()
  await t.rejects(dialect.readPage(s, undefined, 10), { code: 'SIS_SRC_CLOSED' })
})
