import pg from 'pg'
import t from 'tap'
import { PostgresDialect, createSourceDialect, isSourceError, isTransientSourceError } from '../src/index.js'
import { driverMessage, isTransientPostgresError, postgresPoolOptions } from '../src/postgres/postgres-driver.js'
import { stream } from './fixtures.js'

t.test('create source dialect – postgres:// and postgresql:// open the PostgreSQL dialect', async (t) => {
  for (const url of ['postgres://postgres@127.0.0.1:5432/x', 'PostgreSQL://postgres@127.0.0.1/x']) {
    const dialect = createSourceDialect(url)
    t.ok(dialect instanceof PostgresDialect, url)
    t.equal(dialect.engine, 'postgres')
    await dialect.close()
  }
})

t.test('postgres driver – URL to pool options', async (t) => {
  const o = postgresPoolOptions('postgresql://reader:p%40ss@erp.local:5433/erp%20db?sslmode=verify-full&connectTimeout=2500&application_name=sisporta-test', { poolSize: 3 })
  t.match(o, { host: 'erp.local', port: 5433, user: 'reader', password: 'p@ss', database: 'erp db', max: 3, connectionTimeoutMillis: 2500, ssl: { rejectUnauthorized: true }, application_name: 'sisporta-test' })
  const d = postgresPoolOptions('postgres://[::1]/erp', {})
  t.match(d, { host: '::1', port: 5432, user: 'postgres', database: 'erp', max: 2, connectionTimeoutMillis: 10_000, application_name: 'sisporta' })
  t.notOk('password' in d, 'no password in the URL: pg falls back to PGPASSWORD / .pgpass')
  t.match(postgresPoolOptions('postgres://h/db?sslmode=require', {}), { ssl: { rejectUnauthorized: false } })
  t.match(postgresPoolOptions('postgres://h/db?ssl=skip-verify', {}), { ssl: { rejectUnauthorized: false } })
  t.match(postgresPoolOptions('postgres://h/db?sslmode=disable', {}), { ssl: false })
  t.throws(() => postgresPoolOptions('postgres://h/db?sslmode=prefer', {}), { code: 'SIS_SRC_URL', message: /sslmode must be/ })
  t.throws(() => postgresPoolOptions('postgres://h/db?foo=1', {}), { code: 'SIS_SRC_URL', message: /unknown parameter 'foo'/ })
  t.throws(() => postgresPoolOptions('mysql://h/db', {}), { code: 'SIS_SRC_URL', message: /not a PostgreSQL URL/ })
  const err = (() => { try { postgresPoolOptions('postgres://reader:Secret1@h/db?connectTimeout=x', {}) } catch (e) { return e } })()
  t.match(err, { code: 'SIS_SRC_URL', message: /connectTimeout must be a positive number/ })
})

t.test('postgres driver – values are parsed per pool, never through pg\'s global parsers', async (t) => {
  const before = pg.types.getTypeParser(1114, 'text')
  const o = postgresPoolOptions('postgres://h/db', {})
  const parse = (o.types as { getTypeParser (oid: number, format?: string): (v: string) => unknown }).getTypeParser(1114, 'text')
  t.equal(parse('2024-02-29 23:59:59.123456'), '2024-02-29 23:59:59.123456', 'a timestamp stays text: no JavaScript Date')
  t.equal((o.types as { getTypeParser (oid: number): (v: string) => unknown }).getTypeParser(20)('9223372036854775807'), '9223372036854775807')
  t.equal(pg.types.getTypeParser(1114, 'text'), before, 'the global parser is untouched')
  t.type(before('2024-01-01 00:00:00'), Date, 'other pg users in the process still get Dates')
})

t.test('postgres driver – which errors are transient', async (t) => {
  const pgError = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code, severity: 'FATAL' })
  for (const code of ['57P01', '57P02', '57P03', '40001', '40P01', '55P03', '53300', '08006', '08001', '57014', 'ECONNRESET', 'ECONNREFUSED']) {
    t.ok(isTransientPostgresError(pgError(code)), code)
  }
  for (const code of ['42601', '42P01', '42703', '22003', '28P01', '3D000', '25006']) {
    t.notOk(isTransientPostgresError(pgError(code)), code)
  }
  t.ok(isTransientPostgresError(new Error('Connection terminated unexpectedly')))
  t.ok(isTransientPostgresError(new Error('timeout exceeded when trying to connect')))
  t.notOk(isTransientPostgresError('57P01'))
  t.equal(driverMessage(pgError('42601', 'syntax error at or near "SELEC"')), 'syntax error at or near "SELEC" (SQLSTATE 42601)')
  t.equal(driverMessage(pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1')), 'connect ECONNREFUSED 127.0.0.1:1')
})

t.test('postgres driver – a source that cannot be reached is a transient connect error', async (t) => {
  const dialect = createSourceDialect('postgres://postgres:Secret1@127.0.0.1:1/x', { connectTimeoutMs: 2000 })
  t.teardown(() => dialect.close())
  const s = stream({ source: { table: 't' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }] })
  const err = await dialect.describe(s).then(() => undefined, (e: unknown) => e)
  t.ok(isSourceError(err, 'SIS_SRC_CONNECT'))
  t.ok(isTransientSourceError(err))
  t.notMatch((err as Error).message, /Secret1/, 'the password never shows')
})

t.test('postgres driver – a database that does not exist is a connect error that is not transient', async (t) => {
  const dialect = createSourceDialect('postgres://postgres@127.0.0.1:5432/sisporta_no_such_db_x1')
  t.teardown(() => dialect.close())
  const s = stream({ source: { table: 't' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }] })
  const err = await dialect.describe(s).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'SIS_SRC_CONNECT', transient: false, message: /database "sisporta_no_such_db_x1" does not exist \(SQLSTATE 3D000\)/ })
})
