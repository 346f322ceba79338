import t from 'tap'
import { createSourceDialect, isSourceError, isTransientSourceError, MysqlDialect, SOURCE_ERROR_CODES } from '../src/index.js'
import { mysqlPoolOptions, redact } from '../src/mysql/mysql-driver.js'
import { stream } from './fixtures.js'

t.test('create source dialect – picks the dialect by URL scheme', async (t) => {
  const mysql = createSourceDialect('mysql://root@127.0.0.1:3306/x')
  t.ok(mysql instanceof MysqlDialect)
  t.equal(mysql.engine, 'mysql')
  await mysql.close()
  const maria = createSourceDialect('MariaDB://root@127.0.0.1/x')
  t.equal(maria.engine, 'mysql')
  await maria.close()
})

t.test('create source dialect – SQL Server (URL or connection string) and PostgreSQL', async (t) => {
  for (const url of ['mssql://reader:Secret1@erp:1433/ERP', 'sqlserver://reader:Secret1@erp/ERP', 'Server=erp,1433;Database=ERP;User Id=reader;Password=Secret1;']) {
    const dialect = createSourceDialect(url)
    t.equal(dialect.engine, 'mssql', url.replace('Secret1', '***'))
    await dialect.close()
  }
  for (const url of ['postgres://postgres@127.0.0.1/erp', 'postgresql://postgres@127.0.0.1/erp']) {
    const dialect = createSourceDialect(url)
    t.equal(dialect.engine, 'postgres', url)
    await dialect.close()
  }
  t.throws(() => createSourceDialect('oracle://x@y/z'), { code: 'SIS_SRC_UNSUPPORTED', message: /'oracle:\/\/' is not supported/ })
  t.throws(() => createSourceDialect('127.0.0.1:3306'), { code: 'SIS_SRC_URL' })
  const err = (() => { try { createSourceDialect('Database=ERP;Password=Secret1') } catch (e) { return e } })()
  t.match(err, { code: 'SIS_SRC_URL' })
  t.notMatch((err as Error).message, /Secret1/, 'the password never shows')
})

t.test('create source dialect – URL to pool options', async (t) => {
  const o = mysqlPoolOptions('mariadb://reader:p%40ss@erp.local:3307/erp%20db?ssl=true&connectTimeout=2500', { poolSize: 3 })
  t.match(o, { host: 'erp.local', port: 3307, user: 'reader', password: 'p@ss', database: 'erp db', connectionLimit: 3, connectTimeout: 2500, ssl: { rejectUnauthorized: true } })
  t.match(o, { dateStrings: true, supportBigNumbers: true, bigNumberStrings: true, decimalNumbers: false, jsonStrings: true })
  t.throws(() => mysqlPoolOptions('mysql://h/db?foo=1', {}), { code: 'SIS_SRC_URL', message: /unknown parameter 'foo'/ })
  t.equal(redact('mysql://reader:s3cret@erp/db'), 'mysql://reader:***@erp/db')
  t.equal(redact('mysql://reader@erp/db'), 'mysql://reader@erp/db')
})

t.test('create source dialect – a source that cannot be reached is a transient connect error', async (t) => {
  const dialect = createSourceDialect('mysql://root@127.0.0.1:1/x', { connectTimeoutMs: 2000 })
  t.teardown(() => dialect.close())
  const s = stream({ source: { table: 't' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }] })
  const err = await dialect.describe(s).then(() => undefined, (e: unknown) => e)
  t.ok(isSourceError(err, 'SIS_SRC_CONNECT'))
  t.ok(isTransientSourceError(err))
  t.equal(SOURCE_ERROR_CODES.SIS_SRC_CONNECT, 'SIS_SRC_CONNECT')
})
