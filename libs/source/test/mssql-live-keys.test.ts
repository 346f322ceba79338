import mssql from 'mssql'
import t from 'tap'
import type { ColumnMapping, StreamConfig } from '@sisporta/contracts'
import { streamPages, type SourceDialect, type WireRow } from '../src/index.js'
import { stream } from './fixtures.js'
import { liveServer, MSSQL_ADMIN_URL, type Teardown } from './mssql-live-setup.js'

// Keys against a real SQL Server (issue 12, defects 3, 7, 9, 10): character keys under CI and CS
// collations, trailing spaces, a _UTF8 column, CP1252 bytes the driver cannot decode, views and
// query streams whose key repeats across a page boundary, a key in another order than its unique
// index, synonyms, quoted names and the dbo fallback. Runs where SISPORTA_TEST_MSSQL_URL points at
// a server with a login that may create databases and logins (see mssql-live-setup.ts); skipped
// otherwise.

interface Live {
  readonly admin: mssql.ConnectionPool
  /** SQL Server's major version (15: 2019, which brought _UTF8 collations). */
  readonly major: number
  open (): SourceDialect
}

/**
 * A CP1252 database (Latin1_General_CI_AS) with the tables below, and a read-only login whose
 * user's default schema is `erp` and that may SELECT in schemas dbo, erp and Sales.
 */
async function setUp (t: Teardown): Promise<Live> {
  const live = await liveServer(t, { database: 'sisporta_k_', login: 'sisporta_rk_', collation: 'Latin1_General_CI_AS' })
  const { admin, reader: { name: login, url } } = live
  const version = (await admin.request().query("SELECT CONVERT(nvarchar(128), SERVERPROPERTY('ProductVersion')) AS v")).recordset[0].v as string
  const major = Number(version.split('.')[0])
  const batch = (sql: string): Promise<unknown> => admin.request().batch(sql)
  await batch('CREATE SCHEMA erp')
  await batch('CREATE SCHEMA Sales')
  await batch(`CREATE TABLE dbo.CodigosCI (Codigo varchar(10) COLLATE Latin1_General_CI_AS NOT NULL PRIMARY KEY, Nome varchar(40) NULL, Texto text NULL, Fixo char(5) NULL)`)
  await batch(`INSERT INTO dbo.CodigosCI (Codigo, Nome, Texto, Fixo) VALUES ('a', CONVERT(varchar(40), 0x41812042), 'x', 'ab'), ('B', CONVERT(varchar(40), 0x438D44), 'y', 'c'),
    ('c', 'ação', CONVERT(varchar(max), 0x5A90), 'd'), ('D', 'plain', NULL, NULL), ('e', NULL, NULL, NULL)`)
  await batch(`CREATE TABLE dbo.CodigosCS (Codigo varchar(10) COLLATE Latin1_General_CS_AS NOT NULL PRIMARY KEY)`)
  await batch(`INSERT INTO dbo.CodigosCS VALUES ('a'), ('A'), ('b'), ('B'), ('ç'), ('Ç')`)
  await batch(`CREATE TABLE dbo.Espacos (Codigo char(6) NOT NULL PRIMARY KEY, Rotulo nvarchar(10) NULL)`)
  await batch(`INSERT INTO dbo.Espacos VALUES ('ab', N'1'), ('ab c', N'2'), ('abc', N'3'), ('b', N'4')`)
  await batch(`CREATE TABLE dbo.ChaveRuim (Codigo varchar(10) NOT NULL PRIMARY KEY)`)
  await batch(`INSERT INTO dbo.ChaveRuim VALUES ('a'), (CONVERT(varchar(10), 0x4281)), ('c')`)
  if (major >= 15) {
    await batch(`CREATE TABLE dbo.Utf8 (Id int NOT NULL PRIMARY KEY, Codigo varchar(20) COLLATE Latin1_General_100_CI_AS_SC_UTF8 NOT NULL UNIQUE, Nome varchar(40) COLLATE Latin1_General_100_CI_AS_SC_UTF8 NULL)`)
    await admin.request().input('nome', mssql.NVarChar(40), 'Olá 🚀 中文').query(`INSERT INTO dbo.Utf8 VALUES (1, 'x', @nome)`)
  }
  // a view and a query whose key repeats (as the collation compares) across a page boundary
  await batch(`CREATE TABLE dbo.Repetidos (Id int NOT NULL PRIMARY KEY, Codigo nvarchar(10) COLLATE Latin1_General_CI_AS NOT NULL)`)
  await batch(`INSERT INTO dbo.Repetidos VALUES (1, N'a'), (2, N'b'), (3, N'B'), (4, N'c')`)
  await batch('CREATE VIEW dbo.vRepetidos AS SELECT Codigo, Id FROM dbo.Repetidos')
  await batch(`CREATE TABLE dbo.Largura (Id int NOT NULL PRIMARY KEY, Codigo nvarchar(10) COLLATE Latin1_General_CI_AS NOT NULL)`)
  await batch(`INSERT INTO dbo.Largura VALUES (1, N'a'), (2, N'x'), (3, NCHAR(0xFF58)), (4, N'z')`)
  await batch('CREATE VIEW dbo.vLargura AS SELECT Codigo FROM dbo.Largura')
  await batch(`CREATE TABLE dbo.Unicos (Id int NOT NULL PRIMARY KEY, Codigo nvarchar(10) NOT NULL)`)
  await batch(`INSERT INTO dbo.Unicos VALUES (1, N'a'), (2, N'b'), (3, N'c'), (4, N'd'), (5, N'e')`)
  await batch('CREATE VIEW dbo.vUnicos AS SELECT Codigo, Id FROM dbo.Unicos')
  // a key covered by a unique index in another column order
  await batch('CREATE TABLE dbo.Ordem (A int NOT NULL, B int NOT NULL, CONSTRAINT PK_Ordem PRIMARY KEY (B, A))')
  await batch('INSERT INTO dbo.Ordem VALUES (1, 2), (2, 1), (3, 3)')
  // names: quoting, the default schema before dbo, synonyms
  await batch('CREATE TABLE Sales.[Order Lines] (Id int NOT NULL PRIMARY KEY)')
  await batch('INSERT INTO Sales.[Order Lines] VALUES (1), (2)')
  await batch('CREATE TABLE dbo.Ambos (Id int NOT NULL PRIMARY KEY); CREATE TABLE erp.Ambos (Id int NOT NULL PRIMARY KEY)')
  await batch('INSERT INTO dbo.Ambos VALUES (1); INSERT INTO erp.Ambos VALUES (2)')
  await batch('CREATE SYNONYM erp.sCodigos FOR dbo.CodigosCI')
  await batch(`CREATE USER [${login}] FOR LOGIN [${login}] WITH DEFAULT_SCHEMA = erp;
    GRANT SELECT ON SCHEMA::dbo TO [${login}]; GRANT SELECT ON SCHEMA::erp TO [${login}]; GRANT SELECT ON SCHEMA::Sales TO [${login}]`)
  return {
    admin,
    major,
    open: () => live.open(url, {})
  }
}

async function readAll (dialect: SourceDialect, s: StreamConfig, pageSize: number): Promise<WireRow[]> {
  const rows: WireRow[] = []
  for await (const page of streamPages(dialect, s, pageSize, { readAhead: false })) rows.push(...page)
  return rows
}

const table = (name: string, table: string, key: string[], columns: ColumnMapping[]): StreamConfig => stream({ name, source: { table }, key, columns })
const query = (name: string, sql: string, key: string[], columns: ColumnMapping[]): StreamConfig => stream({ name, source: { query: sql }, key, columns })
const code: ColumnMapping = { name: 'code', from: 'Codigo', type: 'string' }
const id: ColumnMapping = { name: 'id', from: 'Id', type: 'int' }

if (MSSQL_ADMIN_URL === undefined) {
  t.skip('mssql live keys – SISPORTA_TEST_MSSQL_URL not set', async () => {})
} else {
  t.test('mssql live keys', async (t) => {
    const live = await setUp(t)

    t.test('CI varchar key: every row once in collation order; varchar, text and char read exactly by SQL Server', async (t) => {
      const s = table('ci', 'dbo.CodigosCI', ['code'], [code, { name: 'name', from: 'Nome', type: 'string' }, { name: 'text', from: 'Texto', type: 'string' }, { name: 'fixed', from: 'Fixo', type: 'string' }])
      const expected = (await live.admin.request().query('SELECT Codigo, CONVERT(nvarchar(40), Nome) AS Nome, CONVERT(nvarchar(max), Texto) AS Texto, CONVERT(nvarchar(5), Fixo) AS Fixo FROM dbo.CodigosCI ORDER BY Codigo')).recordset
        .map((r: Record<string, unknown>) => [r.Codigo, r.Nome, r.Texto, r.Fixo])
      for (const size of [1, 2, 5]) {
        const rows = await readAll(live.open(), s, size)
        t.same(rows, expected, `page size ${size}`)
        t.notOk(rows.some((r) => r.some((v) => typeof v === 'string' && v.includes('\uFFFD'))), 'CP1252 0x81, 0x8D, 0x90 arrive as SQL Server converts them, not as U+FFFD')
      }
      t.same((await readAll(live.open(), s, 2)).map((r) => r[0]), ['a', 'B', 'c', 'D', 'e'], 'case-insensitive order')
    })

    t.test('CS varchar key: upper and lower case are different keys', async (t) => {
      const expected = (await live.admin.request().query('SELECT Codigo FROM dbo.CodigosCS ORDER BY Codigo')).recordset.map((r: Record<string, unknown>) => r.Codigo)
      for (const size of [1, 2, 4]) t.same((await readAll(live.open(), table('cs', 'dbo.CodigosCS', ['code'], [code]), size)).map((r) => r[0]), expected, `page size ${size}`)
      t.equal(expected.length, 6)
    })

    t.test('char key with trailing spaces: padded values page exactly', async (t) => {
      const s = table('spaces', 'dbo.Espacos', ['code'], [code, { name: 'label', from: 'Rotulo', type: 'string' }])
      const expected = (await live.admin.request().query('SELECT Rotulo FROM dbo.Espacos ORDER BY Codigo')).recordset.map((r: Record<string, unknown>) => r.Rotulo)
      t.equal(expected.length, 4)
      for (const size of [1, 3]) t.same((await readAll(live.open(), s, size)).map((r) => r[1]), expected, `page size ${size}`)
    })

    t.test('a CP1252 varchar key holding 0x81 fails its page instead of skipping rows', async (t) => {
      await t.rejects(readAll(live.open(), table('bad_key', 'dbo.ChaveRuim', ['code'], [code]), 1), { code: 'SIS_SRC_VALUE', message: /key column 'code'.*U\+FFFD/ })
    })

    t.test('_UTF8 collation: refused as a key in a CP1252 database, read exactly otherwise', { skip: live.major < 15 ? 'SQL Server before 2019 has no _UTF8 collations' : false }, async (t) => {
      await t.rejects(live.open().describe(table('utf8_key', 'dbo.Utf8', ['code'], [code])),
        { code: 'SIS_SRC_KEY', message: /Latin1_General_100_CI_AS_SC_UTF8 with code page 65001, but the database's collation Latin1_General_CI_AS has code page 1252/ })
      t.same(await readAll(live.open(), table('utf8', 'dbo.Utf8', ['id'], [id, { name: 'name', from: 'Nome', type: 'string' }]), 10), [[1, 'Olá 🚀 中文']])
      const converted = query('utf8_query', 'SELECT CONVERT(nvarchar(20), Codigo) AS Codigo FROM dbo.Utf8', ['code'], [code])
      t.same(await readAll(live.open(), converted, 10), [['x']], 'the suggested fix: a query stream converting the key')
    })

    t.test('views and queries: a key repeated across a page boundary fails the load', async (t) => {
      const view = table('view_dups', 'dbo.vRepetidos', ['code'], [code, id])
      const q = query('query_dups', 'SELECT Codigo, Id FROM dbo.Repetidos', ['code'], [code, id])
      for (const s of [view, q]) {
        for (const size of [1, 2, 3, 10]) {
          await t.rejects(readAll(live.open(), s, size), { code: 'SIS_SRC_KEY', message: /are one key as SQL Server compares them/ }, `${s.name}, page size ${size}`)
        }
      }
      await t.rejects(readAll(live.open(), table('width', 'dbo.vLargura', ['code'], [code]), 2), { code: 'SIS_SRC_KEY' },
        'x and its full-width form are one key under a width-insensitive collation')
    })

    t.test('views and queries with a unique key: every row once, whatever the page size', async (t) => {
      for (const s of [table('view_ok', 'dbo.vUnicos', ['code'], [code, id]), query('query_ok', 'SELECT Codigo, Id FROM dbo.Unicos', ['code'], [code, id])]) {
        for (const size of [1, 2, 4, 5, 6]) t.same((await readAll(live.open(), s, size)).map((r) => r[1]), [1, 2, 3, 4, 5], `${s.name}, page size ${size}`)
      }
    })

    t.test('a key in another column order than its unique index is refused; in the index order it reads', async (t) => {
      const a: ColumnMapping = { name: 'a', from: 'A', type: 'int' }
      const b: ColumnMapping = { name: 'b', from: 'B', type: 'int' }
      await t.rejects(live.open().describe(table('ab', 'dbo.Ordem', ['a', 'b'], [a, b])), { code: 'SIS_SRC_KEY', message: /index PK_Ordem.*\(B, A\).*List target\.key in the index's order \(b, a\)/ })
      t.same(await readAll(live.open(), table('ba', 'dbo.Ordem', ['b', 'a'], [a, b]), 1), [[2, 1], [1, 2], [3, 3]])
    })

    t.test('names: quoted parts, the default schema before dbo, dbo as the fallback, synonyms', async (t) => {
      t.same(await readAll(live.open(), table('quoted', '[Sales].[Order Lines]', ['id'], [id]), 10), [[1], [2]])
      t.same(await readAll(live.open(), table('ambos', 'Ambos', ['id'], [id]), 10), [[2]], 'the user\'s default schema (erp) first')
      t.same((await readAll(live.open(), table('fallback', 'CodigosCI', ['code'], [code]), 10)).length, 5, 'not in erp: dbo')
      const dialect = live.open()
      t.equal((await dialect.describe(table('synonym', 'sCodigos', ['code'], [code]))).object, '[dbo].[CodigosCI]', 'the synonym erp.sCodigos stands for dbo.CodigosCI')
      t.same((await readAll(dialect, table('synonym', 'erp.sCodigos', ['code'], [code]), 2)).length, 5)
    })
  })
}
