import t from 'tap'
import { createConnection } from 'mysql2/promise'
import { connect } from 'nats'
import { busNames } from '@sisporta/contracts'
import { randomId, TEST_MYSQL_SERVER, TEST_NATS_URL } from '@sisporta/testkit'
import { runSisporta } from '@sisporta/cli'

t.test('demo – honours SISPORTA_NAMESPACE, --db-prefix and --rows, and removes what it made', async (t) => {
  const namespace = `t_demo_${randomId(6)}`
  const prefix = `sisporta_t_demo_${randomId(6)}`
  const { code, stdout, stderr } = await runSisporta(['demo', '--rows', '40', '--db-prefix', prefix], { SISPORTA_NAMESPACE: namespace, SISPORTA_MYSQL_URL: `${TEST_MYSQL_SERVER}/${prefix}` })
  t.equal(code, 0, stderr)
  t.match(stdout, `database ${prefix}_erp with 40 products, 24 customers`)
  t.match(stdout, `sisporta migrate → target database ${prefix}`)
  t.match(stdout, /products\s+source\s+\d+ rows, target\s+\d+ rows: identical ✓/)
  t.match(stdout, `Removing namespace ${namespace} and databases ${prefix}, ${prefix}_erp`)

  const sql = await createConnection({ uri: TEST_MYSQL_SERVER })
  t.teardown(async () => { await sql.end() })
  const [dbs] = await sql.query('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?', [`${prefix}%`])
  t.same(dbs, [], 'both databases removed')
  const nc = await connect({ servers: TEST_NATS_URL })
  t.teardown(async () => { await nc.close() })
  const names = busNames(namespace)
  await t.rejects((await nc.jetstreamManager()).streams.info(names.batchStream), /stream not found/, 'its namespace removed')
})
