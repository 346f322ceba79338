import t from 'tap'
import type { ColumnMapping, StreamConfig } from '@sisporta/contracts'
import { MssqlDialect, type MssqlPoolLike, type MssqlRequestLike, type MssqlResultLike, type WireRow } from '../src/index.js'
import {
  DATABASE_SQL, DESCRIBE_QUERY_SQL, FIND_OBJECT_SQL, KEY_CODE_PAGE_SQL, SYNONYM_SQL, TABLE_COLUMNS_SQL, UNIQUE_INDEXES_SQL,
  buildKeysetCondition, buildPageSql, renderSelectColumn, type MssqlKeyColumn, type MssqlPageSpec
} from '../src/mssql/mssql-sql.js'
import { varcharKeyProblem } from '../src/mssql/mssql-key-checks.js'
import { splitQuotedName } from '../src/resolve-table.js'
import { stream } from './fixtures.js'

// Issue 12, defects 3, 7, 9 and 10, without a server: the exact T-SQL for keys that no index
// vouches for, varchar text and keys through the right code page, key order against the unique
// index, and name resolution (default schema, dbo, quoting, synonyms). The same against a real
// server: mssql-live-keys.test.ts.

const plain = (column: string): MssqlKeyColumn => ({ column, compare: { kind: 'plain' } })

t.test('mssql keys – a page whose key no index vouches for carries SQL Server\'s own key comparisons', async (t) => {
  const view: MssqlPageSpec = {
    source: { table: ['dbo', 'vPedidos'] },
    columns: [{ column: 'Doc', read: 'native' }, { column: 'Linha', read: 'native' }],
    key: [plain('Doc'), plain('Linha')],
    isolation: 'SNAPSHOT',
    nolock: false,
    checkKeys: true
  }
  const same = 'CASE WHEN s.[Doc] = LAG(s.[Doc]) OVER (ORDER BY s.[Doc], s.[Linha]) AND s.[Linha] = LAG(s.[Linha]) OVER (ORDER BY s.[Doc], s.[Linha]) THEN 1 ELSE 0 END AS [sisporta_same_key]'
  t.equal(buildPageSql(view, false),
    'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n' +
    `SELECT TOP (@n) s.[Doc], s.[Linha], ${same} FROM [dbo].[vPedidos] AS s ORDER BY s.[Doc], s.[Linha];`)
  t.equal(buildPageSql(view, true),
    'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n' +
    `SELECT TOP (@n) s.[Doc], s.[Linha], ${same}, CASE WHEN s.[Doc] = @k1 AND s.[Linha] = @k2 THEN 1 ELSE 0 END AS [sisporta_at_after] ` +
    'FROM [dbo].[vPedidos] AS s WHERE s.[Doc] >= @k1 AND (s.[Doc] > @k1 OR (s.[Doc] = @k1 AND s.[Linha] >= @k2)) ORDER BY s.[Doc], s.[Linha];',
    'the next page starts at the previous page\'s last key')
  t.equal(buildKeysetCondition('q', [plain('Code')], true), 'q.[Code] >= @k1')
  t.equal(buildKeysetCondition('q', [plain('Code')]), 'q.[Code] > @k1', 'a key an index vouches for still starts after the last key')
  t.equal(buildPageSql({ ...view, checkKeys: false }, true),
    'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n' +
    'SELECT TOP (@n) s.[Doc], s.[Linha] FROM [dbo].[vPedidos] AS s WHERE s.[Doc] >= @k1 AND (s.[Doc] > @k1 OR (s.[Doc] = @k1 AND s.[Linha] > @k2)) ORDER BY s.[Doc], s.[Linha];')
})

t.test('mssql keys – char data is converted to nvarchar by SQL Server, with the column\'s length', async (t) => {
  t.equal(renderSelectColumn('s', { column: 'Nome', read: 'unicode-text', length: 60 }), 'CONVERT(nvarchar(60), s.[Nome]) AS [Nome]')
  t.equal(renderSelectColumn('s', { column: 'Obs', read: 'unicode-text' }), 'CONVERT(nvarchar(max), s.[Obs]) AS [Obs]')
  t.throws(() => renderSelectColumn('s', { column: 'Obs', read: 'unicode-text', length: 4001 }), { code: 'SIS_SRC_ARGUMENT' })
})

t.test('mssql keys – name lookups: default schema then dbo, synonyms, the code pages of a varchar key', async (t) => {
  t.equal(FIND_OBJECT_SQL,
    'SELECT s.name, o.name, o.type, o.object_id FROM sys.objects AS o JOIN sys.schemas AS s ON s.schema_id = o.schema_id ' +
    "WHERE o.name = @name AND (s.name = @schema OR (@schema IS NULL AND s.name IN (SCHEMA_NAME(), N'dbo'))) AND o.type IN ('U', 'V', 'SN') " +
    'ORDER BY CASE WHEN s.name = SCHEMA_NAME() THEN 0 ELSE 1 END;')
  t.equal(SYNONYM_SQL, 'SELECT sn.base_object_name FROM sys.synonyms AS sn WHERE sn.object_id = @object_id;')
  t.equal(KEY_CODE_PAGE_SQL,
    "SELECT CONVERT(nvarchar(128), DATABASEPROPERTYEX(DB_NAME(), 'Collation')), " +
    "CONVERT(int, COLLATIONPROPERTY(CONVERT(nvarchar(128), DATABASEPROPERTYEX(DB_NAME(), 'Collation')), 'CodePage')), " +
    "CONVERT(int, COLLATIONPROPERTY(@collation, 'CodePage'));")
})

t.test('mssql keys – quoted and dotted names split as T-SQL reads them', async (t) => {
  const q = [['[', ']'], ['"', '"']] as const
  t.same(splitQuotedName('[Sales].[Order Lines]', q), ['Sales', 'Order Lines'])
  t.same(splitQuotedName('Sales.Orders', q), ['Sales', 'Orders'])
  t.same(splitQuotedName('"Sales"."Orders"', q), ['Sales', 'Orders'])
  t.same(splitQuotedName('"Sales.Orders"', q), ['Sales.Orders'], 'a dot inside quotes is part of the name')
  t.same(splitQuotedName('[a]]b].[c.d]', q), ['a]b', 'c.d'], 'a doubled closing bracket stands for itself')
  t.same(splitQuotedName('ERP..Orders', q), ['ERP', '', 'Orders'])
  t.same(splitQuotedName(' dbo . Orders ', q), ['dbo', 'Orders'])
  for (const bad of ['[Sales', '[Sales]x', 'Sa[les', '"Sales']) t.equal(splitQuotedName(bad, q), undefined, bad)
})

t.test('mssql keys – a varchar key value must come back to the server as itself', async (t) => {
  t.equal(varcharKeyProblem('Ação', 'CP1252'), undefined)
  t.equal(varcharKeyProblem('plain ASCII', 'CP1252'), undefined)
  t.match(varcharKeyProblem('A\uFFFD', 'CP1252'), /U\+FFFD/, 'CP1252 0x81 as the driver decodes it')
  t.match(varcharKeyProblem('Dvořák', 'CP1252'), /CP1252/, 'ř is not in CP1252: it would be sent as ?')
  t.equal(varcharKeyProblem('Dvořák', 'CP1250'), undefined)
  t.equal(varcharKeyProblem('😀 中文', 'utf-8'), undefined)
})

// ---------------------------------------------------------------------------------------------
// the dialect over a fake pool that answers the catalogue statements and queues pages

interface Sent { readonly sql: string, readonly params: Record<string, unknown> }

interface Fake {
  objects?: Record<string, unknown[]>
  synonyms?: Record<number, string>
  columns?: Record<number, unknown[][]>
  indexes?: Record<number, unknown[][]>
  describe?: unknown[][]
  /** [database collation, its code page, code page per column collation] */
  codePages?: [string, number, Record<string, number>]
  pages?: unknown[][][]
  /** How many columns each page's result metadata lists (none: no metadata). */
  pageWidth?: number
}

class FakePool implements MssqlPoolLike {
  readonly sent: Sent[] = []
  readonly #fake: Fake
  constructor (fake: Fake) { this.#fake = fake }
  async connect (): Promise<void> {}
  async close (): Promise<void> {}
  get pages (): Sent[] { return this.sent.filter((s) => s.sql.startsWith('SET TRANSACTION')) }
  request (): MssqlRequestLike {
    const params: Record<string, unknown> = {}
    const sent = this.sent
    const answer = (sql: string): MssqlResultLike => this.#answer(sql, params)
    return {
      arrayRowMode: false,
      input (name, _type, value) { params[name] = value },
      async query (sql) {
        sent.push({ sql, params })
        return answer(sql)
      }
    }
  }

  #answer (sql: string, params: Record<string, unknown>): MssqlResultLike {
    const f = this.#fake
    const rows = (recordset: unknown[][]): MssqlResultLike => ({ recordset, columns: [[]] })
    switch (sql) {
      case DATABASE_SQL: return rows([['ERP', 'ON', false, 'READ_WRITE', '16.0.4135.4', 'sisporta_reader', 'sisporta_reader']])
      case FIND_OBJECT_SQL: {
        const schema = params.schema as string | null
        const name = String(params.name)
        const found = schema === null
          ? [f.objects?.[`reader.${name}`], f.objects?.[`dbo.${name}`]].filter((r) => r !== undefined)
          : [f.objects?.[`${schema}.${name}`]].filter((r) => r !== undefined)
        return rows(found as unknown[][])
      }
      case SYNONYM_SQL: return rows([[f.synonyms?.[Number(params.object_id)]]])
      case TABLE_COLUMNS_SQL: return rows(f.columns?.[Number(params.object_id)] ?? [])
      case UNIQUE_INDEXES_SQL: return rows(f.indexes?.[Number(params.object_id)] ?? [])
      case DESCRIBE_QUERY_SQL: return rows(f.describe ?? [])
      case KEY_CODE_PAGE_SQL: {
        const [collation, page, columns] = f.codePages ?? ['Latin1_General_CI_AS', 1252, {}]
        return rows([[collation, page, params.collation === null ? null : columns[String(params.collation)] ?? 1252]])
      }
    }
    if (sql.startsWith('SET TRANSACTION')) {
      const width = f.pageWidth ?? 0
      return { recordset: f.pages?.shift() ?? [], columns: [Array.from({ length: width }, (_, index) => ({ index, name: `c${index}`, length: 0, nullable: true }))] }
    }
    // the login's and the object's permission checks (another part of issue 12): nothing granted
    return rows([])
  }
}

const ORDER_COLUMNS: unknown[][] = [
  ['Doc', 'varchar', 20, 0, 0, false, 'Latin1_General_CI_AS'],
  ['Linha', 'int', 4, 10, 0, false, null],
  ['Nome', 'varchar', 60, 0, 0, true, 'Latin1_General_CI_AS'],
  ['Obs', 'text', 16, 0, 0, true, 'Latin1_General_CI_AS'],
  ['Memo', 'ntext', 16, 0, 0, true, 'Latin1_General_CI_AS'],
  ['Longo', 'varchar', 8000, 0, 0, true, 'Latin1_General_CI_AS'],
  ['Sigla', 'char', 3, 0, 0, true, 'Latin1_General_CI_AS']
]

const orderColumns: ColumnMapping[] = [
  { name: 'doc', from: 'Doc', type: 'string' },
  { name: 'line', from: 'Linha', type: 'int' },
  { name: 'name', from: 'Nome', type: 'string' },
  { name: 'obs', from: 'Obs', type: 'string' },
  { name: 'memo', from: 'Memo', type: 'string' },
  { name: 'long', from: 'Longo', type: 'string' },
  { name: 'code', from: 'Sigla', type: 'string' }
]

const ordersStream = (table: string, key = ['doc', 'line']): StreamConfig => stream({ name: 'orders', source: { table }, key, columns: orderColumns })

const ordersServer = (extra: Fake = {}): Fake => ({
  objects: { 'dbo.Pedidos': ['dbo', 'Pedidos', 'U ', 10] },
  columns: { 10: ORDER_COLUMNS, 20: ORDER_COLUMNS },
  indexes: { 10: [[1, 'PK_Pedidos', true, 'Doc'], [1, 'PK_Pedidos', true, 'Linha']] },
  ...extra
})

const row = (doc: string, line: number, ...checks: number[]): unknown[] => [doc, line, 'n', 'o', 'm', 'l', 'abc', ...checks]

t.test('mssql keys – varchar, char and text are read as nvarchar, except key columns, read as stored', async (t) => {
  const pool = new FakePool(ordersServer({ pages: [[row('A', 1)]] }))
  const dialect = new MssqlDialect(pool)
  await dialect.readPage(ordersStream('dbo.Pedidos'), undefined, 10)
  t.equal(pool.pages[0]!.sql,
    'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n' +
    'SELECT TOP (@n) s.[Doc], s.[Linha], CONVERT(nvarchar(60), s.[Nome]) AS [Nome], CONVERT(nvarchar(max), s.[Obs]) AS [Obs], ' +
    'CONVERT(nvarchar(max), s.[Memo]) AS [Memo], CONVERT(nvarchar(max), s.[Longo]) AS [Longo], CONVERT(nvarchar(3), s.[Sigla]) AS [Sigla] ' +
    'FROM [dbo].[Pedidos] AS s ORDER BY s.[Doc], s.[Linha];')
  t.same(pool.sent.filter((s) => s.sql === KEY_CODE_PAGE_SQL).map((s) => s.params.collation), ['Latin1_General_CI_AS'], 'the varchar key\'s code page is asked once')
})

t.test('mssql keys – a varchar key in another code page than the database\'s is refused at describe', async (t) => {
  const pool = new FakePool(ordersServer({
    columns: { 10: [['Doc', 'varchar', 20, 0, 0, false, 'Latin1_General_100_CI_AS_SC_UTF8'], ...ORDER_COLUMNS.slice(1)] },
    codePages: ['Latin1_General_CI_AS', 1252, { Latin1_General_100_CI_AS_SC_UTF8: 65001 }]
  }))
  const err = await new MssqlDialect(pool).describe(ordersStream('dbo.Pedidos')).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'SIS_SRC_KEY', column: 'doc' })
  t.match(String((err as Error).message), /stream 'orders': key column 'doc' \(from Doc varchar\(20\)\) has collation Latin1_General_100_CI_AS_SC_UTF8 with code page 65001, but the database's collation Latin1_General_CI_AS has code page 1252/)
  t.match(String((err as Error).message), /CONVERT\(nvarchar\(20\), Doc\)/, 'names the fix')
  t.equal(pool.pages.length, 0)
})

t.test('mssql keys – a page whose varchar key would not come back as itself fails before it is handed out', async (t) => {
  for (const [doc, reason] of [['A\uFFFD', /U\+FFFD/], ['Dvořák', /does not survive the database code page \(CP1252\)/]] as const) {
    const pool = new FakePool(ordersServer({ pages: [[row('A', 1), row(doc, 1)]] }))
    const err = await new MssqlDialect(pool).readPage(ordersStream('dbo.Pedidos'), undefined, 10).then(() => undefined, (e: unknown) => e)
    t.match(err, { code: 'SIS_SRC_VALUE', column: 'doc', message: reason }, doc)
  }
  const pool = new FakePool(ordersServer({ pages: [[row('Ação', 1)]] }))
  t.same((await new MssqlDialect(pool).readPage(ordersStream('dbo.Pedidos'), undefined, 10)).map((r) => r[0]), ['Ação'])
})

t.test('mssql keys – a key in another column order than its unique index is refused, naming the order to use', async (t) => {
  const pool = new FakePool(ordersServer())
  const err = await new MssqlDialect(pool).describe(ordersStream('dbo.Pedidos', ['line', 'doc'])).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'SIS_SRC_KEY' })
  t.match(String((err as Error).message), /is unique by index PK_Pedidos, but that index orders its columns as \(Doc, Linha\): paging in key order would scan and sort the whole \[dbo\]\.\[Pedidos\] for every page\. List target\.key in the index's order \(doc, line\), or create a unique index on \(Linha, Doc\)/)
  const leading = new FakePool(ordersServer({ indexes: { 10: [[2, 'UX_Doc', false, 'Doc']] } }))
  await new MssqlDialect(leading).describe(ordersStream('dbo.Pedidos'))
  t.pass('a unique index on the key\'s first column is enough')
})

t.test('mssql keys – names: unqualified falls back to dbo, quoted names, synonyms', async (t) => {
  const server = ordersServer({
    objects: {
      'dbo.Pedidos': ['dbo', 'Pedidos', 'U ', 10],
      'Sales.Order Lines': ['Sales', 'Order Lines', 'U ', 10],
      'dbo.sPedidos': ['dbo', 'sPedidos', 'SN', 30],
      'dbo.sRemoto': ['dbo', 'sRemoto', 'SN', 31],
      'dbo.sLinked': ['dbo', 'sLinked', 'SN', 32]
    },
    synonyms: { 30: '[dbo].[Pedidos]', 31: '[Outro].[dbo].[Pedidos]', 32: '[srv].[Outro].[dbo].[Pedidos]' },
    indexes: { 10: [[1, 'PK', true, 'Doc'], [1, 'PK', true, 'Linha']] }
  })
  const describe = async (table: string): Promise<[string | unknown, Sent[]]> => {
    const pool = new FakePool(structuredClone(server))
    try {
      return [(await new MssqlDialect(pool).describe(ordersStream(table))).object, pool.sent.filter((s) => s.sql === FIND_OBJECT_SQL || s.sql === SYNONYM_SQL)]
    } catch (err) {
      return [err, pool.sent]
    }
  }
  const [plainName, lookups] = await describe('Pedidos')
  t.equal(plainName, '[dbo].[Pedidos]')
  t.same(lookups[0]!.params, { schema: null, name: 'Pedidos' }, 'no schema: the server tries the default schema, then dbo')
  const [quoted, quotedLookups] = await describe('[Sales].[Order Lines]')
  t.equal(quoted, '[Sales].[Order Lines]')
  t.same(quotedLookups[0]!.params, { schema: 'Sales', name: 'Order Lines' })
  t.equal((await describe('"Sales"."Order Lines"'))[0], '[Sales].[Order Lines]')
  t.equal((await describe('ERP.Sales.[Order Lines]'))[0], '[Sales].[Order Lines]', 'the connected database may be named')
  const [synonym, synonymLookups] = await describe('sPedidos')
  t.equal(synonym, '[dbo].[Pedidos]', 'a synonym reads the table it stands for')
  t.same(synonymLookups.map((s) => s.params), [{ schema: null, name: 'sPedidos' }, { object_id: 30 }, { schema: 'dbo', name: 'Pedidos' }])
  t.match((await describe('sRemoto'))[0], { code: 'SIS_SRC_TABLE_NOT_FOUND', message: /is in database 'Outro', but the source connects to 'ERP'/ })
  t.match((await describe('sLinked'))[0], { code: 'SIS_SRC_TABLE_NOT_FOUND', message: /linked server/ })
  t.match((await describe('[Sales'))[0], { code: 'SIS_SRC_TABLE_NOT_FOUND', message: /quoting a part that holds dots or spaces/ })
  t.match((await describe('a.b.c.d'))[0], { code: 'SIS_SRC_TABLE_NOT_FOUND' })
  t.match((await describe('Outro.dbo.Pedidos'))[0], { code: 'SIS_SRC_TABLE_NOT_FOUND', message: /is in database 'Outro'/ })
  t.match((await describe('Nada'))[0], { code: 'SIS_SRC_TABLE_NOT_FOUND', message: /looked up as 'Nada' \(in the default schema of user 'sisporta_reader', nor in dbo\)/ })
})

// a view without a unique index: its key is checked by SQL Server on every page
const viewServer = (pages: unknown[][][]): Fake => ({
  objects: { 'dbo.vPedidos': ['dbo', 'vPedidos', 'V ', 20] },
  columns: { 20: ORDER_COLUMNS },
  pages
})

t.test('mssql keys – a view\'s next page starts at the last key, and its row is handed out once', async (t) => {
  const pool = new FakePool(viewServer([
    [row('A', 1, 0), row('A', 2, 0)],
    [row('A', 2, 0, 1), row('B', 1, 0, 0), row('C', 1, 0, 0)]
  ]))
  const dialect = new MssqlDialect(pool)
  const s = ordersStream('dbo.vPedidos')
  const first = await dialect.readPage(s, undefined, 2)
  t.same(first.map((r) => [r[0], r[1], r.length]), [['A', 1, 7], ['A', 2, 7]], 'the check columns are not handed out')
  const next = await dialect.readPage(s, ['A', 2], 2)
  t.same(next.map((r) => [r[0], r[1]]), [['B', 1], ['C', 1]])
  t.same(pool.pages.map((p) => p.params.n), [2, 3], 'one row more: the previous page\'s last row comes back first')
  t.match(pool.pages[1]!.sql, /WHERE s\.\[Doc\] >= @k1 AND \(s\.\[Doc\] > @k1 OR \(s\.\[Doc\] = @k1 AND s\.\[Linha\] >= @k2\)\)/)
})

t.test('mssql keys – a view\'s next page whose last key was deleted meanwhile hands out at most the page size', async (t) => {
  const pool = new FakePool(viewServer([[row('B', 1, 0, 0), row('C', 1, 0, 0), row('D', 1, 0, 0)]]))
  const next = await new MssqlDialect(pool).readPage(ordersStream('dbo.vPedidos'), ['A', 2], 2)
  t.same(next.map((r) => r[0]), ['B', 'C'])
})

t.test('mssql keys – a key SQL Server sees twice fails the load, within a page or across two', async (t) => {
  const within = new FakePool(viewServer([[row('abc', 1, 0), row('ABC ', 1, 1)]]))
  const err = await new MssqlDialect(within).readPage(ordersStream('dbo.vPedidos'), undefined, 10).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'SIS_SRC_KEY', exitCode: 1 })
  t.match(String((err as Error).message), /the source rows with keys \{doc: 'abc', line: 1\} and \{doc: 'ABC ', line: 1\} are one key as SQL Server compares them/)
  // the page before ended on 'ß'; 'ss' equals it under the collation (an expansion no JS folding sees)
  const across = new FakePool(viewServer([[row('ß', 1, 0, 1), row('ss', 1, 1, 1), row('t', 1, 0, 0)]]))
  const err2 = await new MssqlDialect(across).readPage(ordersStream('dbo.vPedidos'), ['ß', 1], 2).then(() => undefined, (e: unknown) => e)
  t.match(err2, { code: 'SIS_SRC_KEY', exitCode: 1 })
  t.match(String((err2 as Error).message), /\{doc: 'ß', line: 1\} and \{doc: 'ss', line: 1\} \(one of them the last row of the page before\)/)
  const twoAtAfter = new FakePool(viewServer([[row('x', 1, 0, 1), row('X', 1, 0, 1)]]))
  const err3 = await new MssqlDialect(twoAtAfter).readPage(ordersStream('dbo.vPedidos'), ['x', 1], 2).then(() => undefined, (e: unknown) => e)
  t.match(err3, { code: 'SIS_SRC_KEY' }, 'two rows equal to the last key: one key twice')
})

t.test('mssql keys – a table with a unique index pages after the last key, without check columns', async (t) => {
  const pool = new FakePool(ordersServer({ pages: [[row('B', 1)]] }))
  const rows: WireRow[] = await new MssqlDialect(pool).readPage(ordersStream('dbo.Pedidos'), ['A', 1], 5)
  t.equal(rows.length, 1)
  t.equal(pool.pages[0]!.params.n, 5)
  t.notMatch(pool.pages[0]!.sql, /sisporta_|LAG|>= @k2/)
})

t.test('mssql keys – a query stream\'s varchar key column is checked like a table\'s', async (t) => {
  const pool = new FakePool({
    describe: [['Doc', 'varchar(20)', 20, 0, 0, false, 'Cyrillic_General_CI_AS', null, null], ['Linha', 'int', 4, 10, 0, false, null, null, null]],
    codePages: ['Latin1_General_CI_AS', 1252, { Cyrillic_General_CI_AS: 1251 }]
  })
  const s = stream({ name: 'q', source: { query: 'SELECT Doc, Linha FROM dbo.Pedidos' }, key: ['doc', 'line'], columns: orderColumns.slice(0, 2) })
  const err = await new MssqlDialect(pool).describe(s).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'SIS_SRC_KEY', message: /code page 1251, but the database's collation Latin1_General_CI_AS has code page 1252.*convert the key in the query/ })
})

t.test('mssql keys – a checked page must carry exactly its check columns', async (t) => {
  const s = ordersStream('dbo.vPedidos')
  t.same((await new MssqlDialect(new FakePool({ ...viewServer([[row('A', 1, 0)]]), pageWidth: 8 })).readPage(s, undefined, 5)).length, 1, 'a first page: one check column')
  t.same((await new MssqlDialect(new FakePool({ ...viewServer([[row('A', 1, 0, 1), row('B', 1, 0, 0)]]), pageWidth: 9 })).readPage(s, ['A', 1], 5)).length, 1, 'a next page: two')
  await t.rejects(new MssqlDialect(new FakePool({ ...viewServer([[row('A', 1, 0)]]), pageWidth: 7 })).readPage(s, undefined, 5), { code: 'SIS_SRC_READ' }, 'without its check column')
  await t.rejects(new MssqlDialect(new FakePool({ ...viewServer([[row('A', 1, 0)]]), pageWidth: 8 })).readPage(s, ['0', 1], 5), { code: 'SIS_SRC_READ' }, 'a next page with one only')
})
