import mssql from 'mssql'
import t from 'tap'
import type { ColumnMapping, StreamConfig } from '@sisporta/contracts'
import {
  MssqlDialect, isTransientSourceError, keyOf, streamPages,
  type MssqlColumnMetadataLike, type MssqlPoolLike, type MssqlRequestLike, type MssqlResultLike, type WireRow
} from '../src/index.js'
import {
  DATABASE_SQL, DESCRIBE_QUERY_SQL, ESTIMATE_ROWS_SQL, FIND_OBJECT_SQL, KEY_CODE_PAGE_SQL, TABLE_COLUMNS_SQL,
  UNIQUE_INDEXES_SQL
} from '../src/mssql/mssql-sql.js'
import { SILENT_FILTERS_SQL } from '../src/mssql/mssql-silent-filters.js'
import { WRITE_ACCESS_SQL } from '../src/mssql/mssql-write-access.js'
import { stream } from './fixtures.js'

// Without a server: no SQL Server can run on this machine (design §6), so these tests drive the
// dialect through `MssqlPoolLike` with a fake that records the T-SQL and the typed parameters it
// receives and answers with rows and column metadata shaped as the mssql driver returns them
// (arrayRowMode). The same behaviour against a real server: mssql-live.test.ts.

interface Sent {
  readonly sql: string
  /** name → [declared type, value] */
  readonly params: Record<string, [string, unknown]>
  readonly arrayRowMode: boolean
}

type Answer = MssqlResultLike | Error

function declaration (type: object): string {
  const { type: factory, length } = type as { type: { declaration: string }, length?: number }
  return length === undefined ? factory.declaration : `${factory.declaration}(${length === mssql.MAX ? 'max' : length})`
}

/** Catalogue of one fake database: answers by statement, pages from a queue. */
interface FakeServer {
  database?: unknown[]
  /** WRITE_ACCESS_SQL rows `[kind, schema, name, permission]` (none: the login only reads) */
  writeAccess?: unknown[][]
  /** SILENT_FILTERS_SQL rows `[kind, object, name, detail]` (none: nothing filtered or masked) */
  silentFilters?: unknown[][]
  objects?: Record<string, unknown[]>
  columns?: Record<number, unknown[][]>
  indexes?: Record<number, unknown[][]>
  describe?: unknown[][]
  estimate?: unknown
  pages?: Answer[]
  connect?: Error
}

class FakePool implements MssqlPoolLike {
  readonly sent: Sent[] = []
  closed = 0
  readonly #server: FakeServer

  constructor (server: FakeServer) {
    this.#server = server
  }

  async connect (): Promise<void> {
    if (this.#server.connect !== undefined) throw this.#server.connect
  }

  request (): MssqlRequestLike {
    const params: Record<string, [string, unknown]> = {}
    const answer = (sql: string): Answer => this.#answer(sql, params)
    const sent = this.sent
    return {
      arrayRowMode: false,
      input (name, type, value) { params[name] = [declaration(type), value] },
      async query (sql) {
        sent.push({ sql, params, arrayRowMode: this.arrayRowMode })
        const a = answer(sql)
        if (a instanceof Error) throw a
        return a
      }
    }
  }

  async close (): Promise<void> {
    this.closed++
  }

  /** Statements other than the catalogue's, in order. */
  get pageStatements (): Sent[] {
    return this.sent.filter((s) => s.sql.startsWith('SET TRANSACTION'))
  }

  #answer (sql: string, params: Record<string, [string, unknown]>): Answer {
    const s = this.#server
    const rows = (recordset: unknown[][]): MssqlResultLike => ({ recordset, columns: [[]] })
    switch (sql) {
      case DATABASE_SQL: return rows([s.database ?? ['ERP', 'ON', false, 'READ_WRITE', '16.0.4135.4', 'sisporta_reader', 'sisporta_reader']])
      case WRITE_ACCESS_SQL: return rows(s.writeAccess ?? [])
      case FIND_OBJECT_SQL: {
        const found = s.objects?.[`${String(params.schema?.[1] ?? 'dbo')}.${String(params.name?.[1])}`]
        return rows(found === undefined ? [] : [found])
      }
      case TABLE_COLUMNS_SQL: return rows(s.columns?.[Number(params.object_id?.[1])] ?? [])
      case UNIQUE_INDEXES_SQL: return rows(s.indexes?.[Number(params.object_id?.[1])] ?? [])
      case SILENT_FILTERS_SQL: return rows(s.silentFilters ?? [])
      case DESCRIBE_QUERY_SQL: return rows(s.describe ?? [])
      case ESTIMATE_ROWS_SQL: return rows([[s.estimate ?? null]])
      // a varchar key's code page and the database's (mssql-keys.test.ts covers them differing)
      case KEY_CODE_PAGE_SQL: return rows([['Latin1_General_CI_AS', 1252, 1252]])
    }
    return s.pages?.shift() ?? new Error(`fake server: no answer for ${sql}`)
  }
}

/** Result-set metadata as mssql reports it (`result.columns[0][i]`). */
function meta (name: string, type: object, length = 0): MssqlColumnMetadataLike {
  return { index: 0, name, length, type, nullable: true }
}

function page (recordset: unknown[][], columns: MssqlColumnMetadataLike[] = []): MssqlResultLike {
  return { recordset, columns: [columns] }
}

// sys.columns rows: name, type, max_length, precision, scale, is_nullable, collation_name
const PRODUTOS_COLUMNS: unknown[][] = [
  ['Codigo', 'nvarchar', 40, 0, 0, false, 'Latin1_General_CI_AS'],
  ['Descricao', 'nvarchar', 200, 0, 0, true, 'Latin1_General_CI_AS'],
  ['Preco', 'decimal', 9, 19, 4, true, null],
  ['Estoque', 'int', 4, 10, 0, true, null],
  ['Atualizado', 'datetime2', 8, 27, 7, true, null]
]

const produtosServer = (): FakeServer => ({
  objects: { 'dbo.Produtos': ['dbo', 'Produtos', 'U ', 1234] },
  columns: { 1234: PRODUTOS_COLUMNS },
  indexes: { 1234: [[1, 'PK_Produtos', true, 'Codigo']] }
})

const products = stream({
  name: 'products',
  source: { table: 'dbo.Produtos' },
  key: ['sku'],
  columns: [
    { name: 'sku', from: 'codigo', type: 'string' },
    { name: 'name', from: 'Descricao', type: 'string' },
    { name: 'price', from: 'Preco', type: 'decimal' },
    { name: 'stock', from: 'Estoque', type: 'int' },
    { name: 'updated_at', from: 'Atualizado', type: 'datetime', fraction: 'truncate' }
  ]
})

interface LogLine { level: string, obj: object, msg: string }

function logSink (): { log: { debug: (o: object, m: string) => void, warn: (o: object, m: string) => void }, lines: LogLine[] } {
  const lines: LogLine[] = []
  return { lines, log: { debug: (obj, msg) => lines.push({ level: 'debug', obj, msg }), warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }) } }
}

t.test('mssql dialect (without a server) – describe checks the login, then the table, its columns and its unique key', async (t) => {
  const pool = new FakePool(produtosServer())
  const dialect = new MssqlDialect(pool)
  const d = await dialect.describe(products)
  t.equal(dialect.engine, 'mssql')
  t.same(d, {
    stream: 'products',
    object: '[dbo].[Produtos]',
    columns: [
      { name: 'sku', from: 'Codigo', type: 'string', sourceType: 'nvarchar(20)', sourceNullable: false },
      { name: 'name', from: 'Descricao', type: 'string', sourceType: 'nvarchar(100)', sourceNullable: true },
      { name: 'price', from: 'Preco', type: 'decimal', sourceType: 'decimal(19,4)', sourceNullable: true },
      { name: 'stock', from: 'Estoque', type: 'int', sourceType: 'int', sourceNullable: true },
      { name: 'updated_at', from: 'Atualizado', type: 'datetime', sourceType: 'datetime2(7)', sourceNullable: true }
    ],
    key: ['Codigo']
  })
  // an nvarchar key: no code-page statement (a varchar key's: the view test below)
  t.same(pool.sent.map((s) => s.sql), [DATABASE_SQL, WRITE_ACCESS_SQL, FIND_OBJECT_SQL, TABLE_COLUMNS_SQL, UNIQUE_INDEXES_SQL, SILENT_FILTERS_SQL])
  t.ok(pool.sent.every((s) => s.arrayRowMode), 'rows as arrays')
  t.same(pool.sent[1]!.params, {}, 'the write check is about the login as a whole: no object parameters')
  t.same(pool.sent[2]!.params, { schema: ['nvarchar(128)', 'dbo'], name: ['nvarchar(128)', 'Produtos'] }, 'names travel as parameters')
  t.same(pool.sent[3]!.params, { object_id: ['int', 1234] })
  t.same(pool.sent[4]!.params, { object_id: ['int', 1234] })
  t.same(pool.sent[5]!.params, { object_id: ['int', 1234], tsql: ['nvarchar(max)', null], query: ['nvarchar(max)', null] }, 'RLS, masks and memory-optimized asked about the resolved table')

  await dialect.describe(products)
  t.same(pool.sent.slice(6).map((s) => s.sql), [DATABASE_SQL, WRITE_ACCESS_SQL, FIND_OBJECT_SQL, TABLE_COLUMNS_SQL, UNIQUE_INDEXES_SQL, SILENT_FILTERS_SQL],
    'describe (once per load) asks everything again: schema, settings and permissions may have changed')
  const unqualified = stream({ ...products, source: { table: 'Produtos' }, key: ['sku'], columns: [...products.columns] })
  await dialect.describe(unqualified)
  t.same(pool.sent.at(-4)!.params, { schema: ['nvarchar(128)', null], name: ['nvarchar(128)', 'Produtos'] }, 'no schema: the user\'s default schema, then dbo (@schema IS NULL)')
})

t.test('mssql dialect (without a server) – pages: exact T-SQL, typed parameters, exact values', async (t) => {
  const pool = new FakePool({
    ...produtosServer(),
    pages: [
      page([
        ['A-1', 'Café ☕', '12.3400', 7, '2024-02-29 23:59:59.1234560'],
        ['B-2', null, '-0.0001', -1, '2024-01-01 00:00:00.0000000']
      ], [meta('Codigo', mssql.NVarChar, 40), meta('Descricao', mssql.NVarChar, 200), meta('Preco', mssql.VarChar, 64), meta('Estoque', mssql.Int, 4), meta('Atualizado', mssql.VarChar, 27)]),
      page([['C-3', 'Ação', '99999999999999.9999', 0, null]])
    ]
  })
  const dialect = new MssqlDialect(pool)
  const first = await dialect.readPage(products, undefined, 2)
  t.same(first, [
    ['A-1', 'Café ☕', '12.3400', 7, '2024-02-29T23:59:59.123456'],
    ['B-2', null, '-0.0001', -1, '2024-01-01T00:00:00.000000']
  ])
  const next = await dialect.readPage(products, keyOf(products, first[1]!), 2)
  t.same(next, [['C-3', 'Ação', '99999999999999.9999', 0, null]])
  const [p1, p2] = pool.pageStatements
  const select = 'SELECT TOP (@n) s.[Codigo], s.[Descricao], CONVERT(varchar(64), s.[Preco]) AS [Preco], s.[Estoque], CONVERT(varchar(27), s.[Atualizado], 121) AS [Atualizado] FROM [dbo].[Produtos] AS s'
  t.equal(p1!.sql, `SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n${select} ORDER BY s.[Codigo];`)
  t.same(p1!.params, { n: ['int', 2] })
  t.equal(p2!.sql, `SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n${select} WHERE s.[Codigo] > @k1 ORDER BY s.[Codigo];`)
  t.same(p2!.params, { n: ['int', 2], k1: ['nvarchar(20)', 'B-2'] }, 'the key parameter has the column\'s own type')
  await t.rejects(dialect.readPage(products, undefined, 50_001), { code: 'SIS_SRC_ARGUMENT', message: /from 1 to 50000/ })
  await t.rejects(dialect.readPage(products, ['a', 'b'], 10), { code: 'SIS_SRC_ARGUMENT', message: /'after' has 2 values/ })
})

// Every common ERP type in one table, a composite key of bigint and int.
const ITENS_COLUMNS: unknown[][] = [
  ['Pedido', 'bigint', 8, 19, 0, false, null],
  ['Linha', 'int', 4, 10, 0, false, null],
  ['Valor', 'decimal', 9, 19, 4, true, null],
  ['Taxa', 'numeric', 17, 38, 10, true, null],
  ['Total', 'money', 8, 19, 4, true, null],
  ['Ativo', 'bit', 1, 1, 0, true, null],
  ['Nota', 'nvarchar', -1, 0, 0, true, 'Latin1_General_100_CI_AS_SC'],
  ['Ref', 'varchar', 20, 0, 0, true, 'SQL_Latin1_General_CP1_CI_AS'],
  ['Criado', 'datetime', 8, 23, 3, true, null],
  ['Alterado', 'datetime2', 8, 27, 7, true, null],
  ['Dia', 'date', 3, 10, 0, true, null],
  ['Hora', 'time', 5, 16, 7, true, null],
  ['Quando', 'datetimeoffset', 10, 34, 7, true, null],
  ['Guid', 'uniqueidentifier', 16, 0, 0, true, null],
  ['Foto', 'varbinary', 16, 0, 0, true, null],
  ['Versao', 'timestamp', 8, 0, 0, false, null]
]

const itens = stream({
  name: 'order_lines',
  source: { table: 'erp.ItensPedido', version: 'Versao' },
  key: ['order_id', 'line'],
  columns: [
    { name: 'order_id', from: 'Pedido', type: 'bigint' },
    { name: 'line', from: 'Linha', type: 'int' },
    { name: 'amount', from: 'Valor', type: 'decimal', precision: 19, scale: 4 },
    { name: 'rate', from: 'Taxa', type: 'decimal' },
    { name: 'total', from: 'Total', type: 'decimal' },
    { name: 'active', from: 'Ativo', type: 'bool' },
    { name: 'note', from: 'Nota', type: 'string' },
    { name: 'ref', from: 'Ref', type: 'string' },
    { name: 'created', from: 'Criado', type: 'datetime' },
    { name: 'changed', from: 'Alterado', type: 'datetime', fraction: 'truncate' },
    { name: 'day', from: 'Dia', type: 'date' },
    { name: 'hour', from: 'Hora', type: 'string' },
    { name: 'at_utc', from: 'Quando', type: 'datetime', fraction: 'truncate' },
    { name: 'guid', from: 'Guid', type: 'uuid' },
    { name: 'photo', from: 'Foto', type: 'binary' },
    { name: 'version', from: 'Versao', type: 'bigint' }
  ]
})

t.test('mssql dialect (without a server) – every ERP type: the select list, composite keyset parameters, the values', async (t) => {
  const pool = new FakePool({
    database: ['ERP', 'OFF', true, 'READ_WRITE', '15.0.2000.5', 'reader', 'reader'],
    objects: { 'erp.ItensPedido': ['erp', 'ItensPedido', 'U ', 77] },
    columns: { 77: ITENS_COLUMNS },
    indexes: { 77: [[1, 'PK_ItensPedido', true, 'Pedido'], [1, 'PK_ItensPedido', true, 'Linha']] },
    pages: [page([[
      '9007199254740993', 3, '123456789012345.6789', '-1234567890123456789012345678.0123456789', '922337203685477.5807', true,
      'Olá 🚀👩🏽‍💻 中文', 'ação', '2024-02-29 23:59:59.997', '2024-02-29 23:59:59.1234560', '0001-01-01', '23:59:59.1234567',
      '2024-01-01 08:00:00.1234560', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', Buffer.from([0, 255, 16]), '2001'
    ]])]
  })
  const dialect = new MssqlDialect(pool)
  const rows = await dialect.readPage(itens, ['9007199254740992', 7], 500)
  t.same(rows, [[
    '9007199254740993', 3, '123456789012345.6789', '-1234567890123456789012345678.0123456789', '922337203685477.5807', true,
    'Olá 🚀👩🏽‍💻 中文', 'ação', '2024-02-29T23:59:59.997', '2024-02-29T23:59:59.123456', '0001-01-01', '23:59:59.1234567',
    '2024-01-01T08:00:00.123456', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'AP8Q', '2001'
  ]])
  const [sent] = pool.pageStatements
  t.equal(sent!.sql,
    'SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\n' +
    'SELECT TOP (@n) CONVERT(varchar(20), s.[Pedido]) AS [Pedido], s.[Linha], CONVERT(varchar(64), s.[Valor]) AS [Valor], ' +
    'CONVERT(varchar(64), s.[Taxa]) AS [Taxa], CONVERT(varchar(64), s.[Total], 2) AS [Total], s.[Ativo], s.[Nota], CONVERT(nvarchar(20), s.[Ref]) AS [Ref], ' +
    'CONVERT(varchar(27), s.[Criado], 121) AS [Criado], CONVERT(varchar(27), s.[Alterado], 121) AS [Alterado], ' +
    'CONVERT(varchar(10), s.[Dia], 23) AS [Dia], CONVERT(varchar(16), s.[Hora], 121) AS [Hora], ' +
    "CONVERT(varchar(27), CONVERT(datetime2(7), SWITCHOFFSET(s.[Quando], '+00:00')), 121) AS [Quando], s.[Guid], s.[Foto], " +
    'CONVERT(varchar(20), CONVERT(bigint, s.[Versao])) AS [Versao] ' +
    'FROM [erp].[ItensPedido] AS s ' +
    'WHERE s.[Pedido] >= CONVERT(bigint, @k1) AND (s.[Pedido] > CONVERT(bigint, @k1) OR (s.[Pedido] = CONVERT(bigint, @k1) AND s.[Linha] > @k2)) ' +
    'ORDER BY s.[Pedido], s.[Linha];',
    'snapshot isolation is OFF in this database: READ COMMITTED; ORDER BY the stored columns, not their text aliases')
  t.same(sent!.params, { n: ['int', 500], k1: ['varchar(20)', '9007199254740992'], k2: ['int', 7] }, 'a bigint key beyond 2^53 travels as text')
  const d = await dialect.describe(itens)
  t.same(d.version, { from: 'Versao', sourceType: 'rowversion' })
})

t.test('mssql dialect (without a server) – a view paginates page by page: the key is checked while reading', async (t) => {
  const pool = new FakePool({
    objects: { 'dbo.vClientes': ['dbo', 'vClientes', 'V ', 9] },
    columns: { 9: [['Codigo', 'varchar', 10, 0, 0, false, 'Latin1_General_CI_AS'], ['Nome', 'nvarchar', 100, 0, 0, true, 'Latin1_General_CI_AS']] },
    // trailing [sisporta_same_key] (and [sisporta_at_after] on a next page): SQL Server's own comparison
    pages: [
      page([['a1', 'x', 0], ['b2', 'y', 0]]),
      page([['b2', 'y', 0, 1], ['c3', 'z', 0, 0], ['C3 ', 'w', 1, 0]])
    ]
  })
  const customers = stream({ name: 'customers', source: { table: 'dbo.vClientes' }, key: ['code'], columns: [{ name: 'code', from: 'Codigo', type: 'string' }, { name: 'name', from: 'Nome', type: 'string' }] })
  const { log, lines } = logSink()
  const dialect = new MssqlDialect(pool, { log })
  t.same((await dialect.describe(customers)).object, '[dbo].[vClientes]')
  t.same(pool.sent.map((s) => s.sql), [DATABASE_SQL, WRITE_ACCESS_SQL, FIND_OBJECT_SQL, TABLE_COLUMNS_SQL, UNIQUE_INDEXES_SQL, SILENT_FILTERS_SQL, KEY_CODE_PAGE_SQL],
    'a view is checked for silent filters too; a varchar key: its code page against the database\'s')
  t.same(pool.sent.at(-1)!.params, { collation: ['nvarchar(128)', 'Latin1_General_CI_AS'] }, 'the key column\'s collation')
  t.match(lines.find((l) => l.msg === 'source described')?.obj, { uniqueKey: 'checked while reading', isolation: 'SNAPSHOT' })
  t.equal(await dialect.estimateRows(customers), undefined, 'a view has no row estimate')
  t.same(await dialect.readPage(customers, undefined, 2), [['a1', 'x'], ['b2', 'y']])
  await t.rejects(dialect.readPage(customers, ['b2'], 2), {
    code: 'SIS_SRC_KEY',
    message: /stream 'customers': the source rows with keys \{code: 'c3'\} and \{code: 'C3 '\} are one key as SQL Server compares them/
  })
})

t.test('mssql dialect (without a server) – snapshot, NOLOCK and a query stream', async (t) => {
  const pool = new FakePool({
    ...produtosServer(),
    database: ['ERP', 'OFF', false, 'READ_WRITE', '16.0', 'r', 'r'],
    describe: [
      ['sku', 'nvarchar(20)', 40, 0, 0, false, 'Latin1_General_CI_AS', null, null],
      ['price', 'money', 8, 19, 4, true, null, null, null]
    ],
    pages: [page([]), page([])]
  })
  const dialect = new MssqlDialect(pool)
  const nolock = stream({ name: 'products', source: { table: 'dbo.Produtos', nolock: true }, key: ['sku'], columns: [{ name: 'sku', from: 'Codigo', type: 'string' }] })
  t.same(await dialect.readPage(nolock, undefined, 10), [])
  t.equal(pool.pageStatements[0]!.sql, 'SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED;\nSELECT TOP (@n) s.[Codigo] FROM [dbo].[Produtos] AS s WITH (NOLOCK) ORDER BY s.[Codigo];')

  const query = 'SELECT p.Codigo AS sku, p.Preco AS price FROM dbo.Produtos AS p WHERE p.Ativo = 1;'
  const q = stream({ name: 'priced', source: { query }, key: ['sku'], columns: [{ name: 'sku', from: 'SKU', type: 'string' }, { name: 'price', from: 'price', type: 'decimal' }] })
  const d = await dialect.describe(q)
  t.same(d.columns.map((c) => [c.from, c.sourceType, c.sourceNullable]), [['sku', 'nvarchar(20)', false], ['price', 'money', true]])
  t.equal(d.object, '(query)')
  const describe = pool.sent.find((s) => s.sql === DESCRIBE_QUERY_SQL)!
  t.same(describe.params, { tsql: ['nvarchar(max)', 'SELECT * FROM (\nSELECT p.Codigo AS sku, p.Preco AS price FROM dbo.Produtos AS p WHERE p.Ativo = 1\n) AS q'] }, 'the query travels as a parameter, wrapped as it will be read')
  t.same(await dialect.readPage(q, ['A'], 10), [])
  t.equal(pool.pageStatements[1]!.sql,
    'SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\n' +
    'SELECT TOP (@n) q.[sku], CONVERT(varchar(64), q.[price], 2) AS [price], ' +
    'CASE WHEN q.[sku] = LAG(q.[sku]) OVER (ORDER BY q.[sku]) THEN 1 ELSE 0 END AS [sisporta_same_key], ' +
    'CASE WHEN q.[sku] = @k1 THEN 1 ELSE 0 END AS [sisporta_at_after] FROM (\n' +
    'SELECT p.Codigo AS sku, p.Preco AS price FROM dbo.Produtos AS p WHERE p.Ativo = 1\n' +
    ') AS q WHERE q.[sku] >= @k1 ORDER BY q.[sku];',
    'snapshot isolation OFF: READ COMMITTED; a query\'s key is checked while reading, a next page starting at the last key')
  t.same(pool.pageStatements[1]!.params, { n: ['int', 11], k1: ['nvarchar(20)', 'A'] }, 'one row more: the previous page\'s last row is read again')
  t.equal(await dialect.estimateRows(q), undefined)
})

t.test('mssql dialect (without a server) – a login that could write is refused, unless allowed', async (t) => {
  // WRITE_ACCESS_SQL rows [kind, schema, name, permission]: what the login can do besides reading
  const ownerRows = [['role', null, 'db_owner', null], ['database', null, null, 'INSERT'], ['database', null, null, 'UPDATE'], ['database', null, null, 'DELETE'], ['database', null, null, 'ALTER']]
  const writer = new FakePool({ ...produtosServer(), database: ['ERP', 'ON', false, 'READ_WRITE', '16.0', 'erp_app', 'erp_user'], writeAccess: ownerRows })
  const refused = new MssqlDialect(writer)
  const err = await refused.describe(products).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'SIS_SRC_WRITABLE_LOGIN', stream: 'products' })
  t.match((err as Error).message,
    /^stream 'products': the source login 'erp_app' \(user 'erp_user' in database 'ERP'\) can write: member of db_owner \(remove: ALTER ROLE \[db_owner\] DROP MEMBER \[erp_user\];\); INSERT, UPDATE, DELETE, ALTER on the database \(remove: REVOKE INSERT, UPDATE, DELETE, ALTER FROM \[erp_user\];\)\./,
    'every capability named with its remedy, roles first, a securable\'s permissions together; the database user\'s name in the remedies')
  t.match((err as Error).message, /needs a read-only login.*docs\/sql-server\.md.*--allow-writable-login/)
  t.same(writer.sent.map((s) => s.sql), [DATABASE_SQL, WRITE_ACCESS_SQL], 'nothing is read from the table')
  t.notOk(isTransientSourceError(err))
  await t.rejects(refused.readPage(products, undefined, 10), { code: 'SIS_SRC_WRITABLE_LOGIN' }, 'readPage checks first too')
  t.same(writer.sent.slice(2).map((s) => s.sql), [DATABASE_SQL, WRITE_ACCESS_SQL], 'readPage asks again (the failed check is not cached) and reads nothing')

  const sysadmin = new MssqlDialect(new FakePool({ ...produtosServer(), writeAccess: [['server-role', null, 'sysadmin', null]] }))
  await t.rejects(sysadmin.describe(products), { code: 'SIS_SRC_WRITABLE_LOGIN', message: /can write: member of server role sysadmin \(remove: ALTER SERVER ROLE \[sysadmin\] DROP MEMBER \[sisporta_reader\];\)/ })

  // the login as a whole: a write permission on another table than the stream's refuses it too
  const tableWriterPool = new FakePool({ ...produtosServer(), writeAccess: [['object', 'dbo', 'Produtos', 'INSERT'], ['object', 'dbo', 'Produtos', 'DELETE'], ['object', 'dbo', 'Pedidos', 'UPDATE']] })
  await t.rejects(new MssqlDialect(tableWriterPool).describe(products), {
    code: 'SIS_SRC_WRITABLE_LOGIN',
    message: /can write: INSERT, DELETE on \[dbo\]\.\[Produtos\] \(remove: REVOKE INSERT, DELETE ON \[dbo\]\.\[Produtos\] FROM \[sisporta_reader\];\); UPDATE on \[dbo\]\.\[Pedidos\] \(remove: REVOKE UPDATE ON \[dbo\]\.\[Pedidos\] FROM \[sisporta_reader\];\)/
  })
  t.same(tableWriterPool.sent.map((s) => s.sql), [DATABASE_SQL, WRITE_ACCESS_SQL], 'checked before the table is looked up')

  const { log, lines } = logSink()
  const allowedPool = new FakePool({ ...produtosServer(), writeAccess: [['database', null, null, 'INSERT'], ['role', null, 'db_datawriter', null]], pages: [page([])] })
  const allowed = new MssqlDialect(allowedPool, { log, allowWritableLogin: true })
  t.same(await allowed.readPage(products, undefined, 10), [])
  t.equal(allowedPool.pageStatements.length, 1, 'read anyway')
  const warning = lines.find((l) => l.level === 'warn')
  t.match(warning, { obj: { stream: 'products', login: 'sisporta_reader', can: ['member of db_datawriter', 'INSERT on the database'] }, msg: /can write: member of db_datawriter .*; reading anyway because writable logins are allowed$/ })
})

t.test('mssql dialect (without a server) – schema checks before a load', async (t) => {
  const dialect = new MssqlDialect(new FakePool({
    ...produtosServer(),
    objects: { ...produtosServer().objects, 'dbo.Log': ['dbo', 'Log', 'U ', 55], 'other.Produtos': ['other', 'Produtos', 'U ', 56] },
    columns: { ...produtosServer().columns, 55: [['Id', 'int', 4, 10, 0, false, null], ['Msg', 'nvarchar', -1, 0, 0, true, 'Latin1_General_CI_AS']], 56: PRODUTOS_COLUMNS },
    indexes: { ...produtosServer().indexes, 56: [[2, 'UX_Descricao_Estoque', false, 'Descricao'], [2, 'UX_Descricao_Estoque', false, 'Estoque']] }
  }))
  const col = (c: ColumnMapping): StreamConfig => stream({ name: 'products', source: { table: 'dbo.Produtos' }, key: ['sku'], columns: [{ name: 'sku', from: 'Codigo', type: 'string' }, c] })

  let err = await dialect.describe(col({ name: 'stock', from: 'Estoque', type: 'bool' })).then(() => undefined, (e: unknown) => e)
  t.equal(err, undefined, 'int → bool is allowed (each value must be 0 or 1)')
  err = await dialect.describe(col({ name: 'price', from: 'Preco', type: 'int' })).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'SIS_SRC_TYPE', stream: 'products', column: 'price' })
  t.match((err as Error).message, /^stream 'products', column 'price' \(from Preco decimal\(19,4\) to int\): decimal\(19,4\) holds values a int cannot/)
  await t.rejects(dialect.describe(col({ name: 'price', from: 'Preco', type: 'decimal', precision: 12, scale: 2 })),
    { code: 'SIS_SRC_TYPE', message: /column 'price' \(from Preco decimal\(19,4\) to decimal\): .*declared precision 12, scale 2/ })
  await t.rejects(dialect.describe(col({ name: 'changed', from: 'Atualizado', type: 'date' })),
    { code: 'SIS_SRC_TYPE', message: /datetime2\(7\) cannot be read as date without loss; it maps to datetime, string/ })
  await t.rejects(dialect.describe(col({ name: 'name', from: 'Descricao', type: 'string', length: 50 })),
    { code: 'SIS_SRC_TYPE', message: /nvarchar\(100\) holds up to 100 characters; the declared length 50 is shorter/ })
  await t.rejects(dialect.describe(col({ name: 'nope', from: 'Nada', type: 'string' })),
    { code: 'SIS_SRC_COLUMN_NOT_FOUND', column: 'nope', message: /source column 'Nada' \(mapped to column 'nope', type string\) is not in table \[dbo\]\.\[Produtos\], which has: Codigo nvarchar\(20\), Descricao nvarchar\(100\), Preco decimal\(19,4\), Estoque int, Atualizado datetime2\(7\)/ })
  await t.rejects(dialect.describe(stream({ name: 'logs', source: { table: 'dbo.Log' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }] })),
    { code: 'SIS_SRC_KEY', message: /stream 'logs': target\.key \(id\) from \[dbo\]\.\[Log\] \(Id\) is not known to be unique: .*it has no primary key or unique index/ })
  await t.rejects(dialect.describe(stream({ name: 'by_name', source: { table: 'other.Produtos' }, key: ['name'], columns: [{ name: 'name', from: 'Descricao', type: 'string' }] })),
    { code: 'SIS_SRC_KEY', message: /its unique indexes are UX_Descricao_Estoque \(Descricao, Estoque\)/ })
  t.equal(await dialect.describe(stream({ name: 'by_pair', source: { table: 'other.Produtos' }, key: ['name', 'stock'], columns: [{ name: 'name', from: 'Descricao', type: 'string' }, { name: 'stock', from: 'Estoque', type: 'int' }] }))
    .then(() => 'ok'), 'ok', 'a unique index on the key columns makes the key safe')
  await t.rejects(dialect.describe(stream({ name: 'logs', source: { table: 'dbo.Log' }, key: ['msg'], columns: [{ name: 'msg', from: 'Msg', type: 'string' }] })),
    { code: 'SIS_SRC_KEY' })
  await t.rejects(dialect.describe(stream({ name: 'price_key', source: { table: 'dbo.Produtos' }, key: ['sku'], columns: [{ name: 'sku', from: 'Codigo', type: 'json' }] })),
    { code: 'SIS_SRC_KEY', column: 'sku', message: /key column 'sku' \(from Codigo nvarchar\(20\), type json\): a json column cannot be a key/ })
  await t.rejects(dialect.describe(stream({ name: 'missing', source: { table: 'dbo.Nada' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }] })),
    { code: 'SIS_SRC_TABLE_NOT_FOUND', message: /stream 'missing': source table 'dbo\.Nada', looked up as 'dbo\.Nada', is not a table, view or synonym in database 'ERP' that login 'sisporta_reader' can see/ })
  await t.rejects(dialect.describe(stream({ name: 'elsewhere', source: { table: 'Financeiro.dbo.Titulos' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }] })),
    { code: 'SIS_SRC_TABLE_NOT_FOUND', message: /is in database 'Financeiro', but the source connects to 'ERP'/ })
  t.equal(await dialect.describe(stream({ name: 'three_parts', source: { table: 'erp.dbo.Produtos' }, key: ['sku'], columns: [{ name: 'sku', from: 'Codigo', type: 'string' }] })).then((d) => d.object),
    '[dbo].[Produtos]', 'database.schema.table naming the connected database')
})

t.test('mssql dialect (without a server) – a query that cannot be wrapped fails with the server\'s reason and a hint', async (t) => {
  const failing = (number: number, message: string): FakeServer => ({ describe: [[null, null, null, null, null, null, null, number, message]] })
  const q = (query: string): StreamConfig => stream({ name: 'q', source: { query }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }] })
  await t.rejects(new MssqlDialect(new FakePool(failing(1033, 'The ORDER BY clause is invalid in views, inline functions, derived tables…'))).describe(q('SELECT id FROM t ORDER BY id')),
    { code: 'SIS_SRC_QUERY', message: /stream 'q': the source query cannot run: SQL Server error 1033: The ORDER BY clause is invalid.* \(remove the ORDER BY: sisporta orders every page by the key\)/ })
  await t.rejects(new MssqlDialect(new FakePool(failing(156, "Incorrect syntax near the keyword 'WITH'."))).describe(q('WITH x AS (SELECT 1 AS id) SELECT id FROM x')),
    { code: 'SIS_SRC_QUERY', message: /a query that starts with WITH cannot be wrapped as a derived table/ })
  await t.rejects(new MssqlDialect(new FakePool(failing(8155, "No column name was specified for column 1 of 'q'."))).describe(q('SELECT COUNT(*) FROM t')),
    { code: 'SIS_SRC_QUERY', message: /give every computed column a name with AS/ })
  await t.rejects(new MssqlDialect(new FakePool({ describe: [] })).describe(q('EXEC dbo.Something')),
    { code: 'SIS_SRC_QUERY', message: /returns no result set/ })
})

t.test('mssql dialect (without a server) – estimates, errors, values and close', async (t) => {
  const pool = new FakePool({ ...produtosServer(), estimate: '1250000' })
  const dialect = new MssqlDialect(pool)
  t.equal(await dialect.estimateRows(products), 1_250_000, 'sys.partitions rows (a bigint, as text)')
  t.same(pool.sent.at(-1), { sql: ESTIMATE_ROWS_SQL, params: { object_id: ['int', 1234] }, arrayRowMode: true })

  const unreachable = Object.assign(new Error('Failed to connect to erp-db:1433 - connect ECONNREFUSED'), { code: 'ESOCKET' })
  const down = await new MssqlDialect(new FakePool({ connect: unreachable })).describe(products).then(() => undefined, (e: unknown) => e)
  t.match(down, { code: 'SIS_SRC_CONNECT', transient: true, exitCode: 1, message: /^cannot connect to the source \(SISPORTA_SOURCE_URL\): ESOCKET: Failed to connect/ })
  const badLogin = Object.assign(new Error("Login failed for user 'reader'."), { code: 'ELOGIN' })
  t.match(await new MssqlDialect(new FakePool({ connect: badLogin })).describe(products).then(() => undefined, (e: unknown) => e), { code: 'SIS_SRC_CONNECT', transient: false, exitCode: 2, message: /login failed: wrong user or password.* — ELOGIN: Login failed for user 'reader'/ })

  const deadlock = Object.assign(new Error('Transaction (Process ID 61) was deadlocked on lock resources with another process and has been chosen as the deadlock victim.'), { code: 'EREQUEST', number: 1205 })
  const timeout = Object.assign(new Error('Timeout: Request failed to complete in 60000ms'), { code: 'ETIMEOUT' })
  const invalid = Object.assign(new Error("Invalid column name 'Preco'."), { code: 'EREQUEST', number: 207 })
  const flaky = new MssqlDialect(new FakePool({ ...produtosServer(), pages: [deadlock, timeout, invalid] }))
  await t.rejects(flaky.readPage(products, undefined, 10), { code: 'SIS_SRC_READ', transient: true, message: /could not read a page: SQL Server error 1205: Transaction/ })
  await t.rejects(flaky.readPage(products, undefined, 10), { code: 'SIS_SRC_READ', transient: true, message: /ETIMEOUT|Timeout/ })
  await t.rejects(flaky.readPage(products, undefined, 10), { code: 'SIS_SRC_READ', transient: false, message: /SQL Server error 207: Invalid column name 'Preco'/ })

  const native = new MssqlDialect(new FakePool({
    ...produtosServer(),
    pages: [page([['A', 'x', 12.34, 1, null]], [meta('Codigo', mssql.NVarChar, 40), meta('Descricao', mssql.NVarChar, 200), meta('Preco', mssql.Decimal, 17), meta('Estoque', mssql.Int, 4), meta('Atualizado', mssql.VarChar, 27)])]
  }))
  await t.rejects(native.readPage(products, undefined, 10), {
    code: 'SIS_SRC_READ',
    column: 'price',
    message: /column 'price' \(from Preco decimal\(19,4\)\): the driver delivered decimal, where varchar or char was expected/
  }, 'a decimal delivered as a JavaScript number is never taken')

  // datetime2(7) as datetime: refused at describe, unless fraction: truncate (then cut, counted, logged after the last page)
  const untruncated = stream({ ...products, key: ['sku'], columns: products.columns.map((c) => c.name === 'updated_at' ? { name: c.name, from: c.from, type: c.type } : c) })
  await t.rejects(new MssqlDialect(new FakePool(produtosServer())).describe(untruncated),
    { code: 'SIS_SRC_TYPE', stream: 'products', column: 'updated_at', message: /^stream 'products', column 'updated_at' \(from Atualizado datetime2\(7\) to datetime\): datetime2\(7\) keeps 7 fractional-second digits .* add fraction: truncate/ })
  const sink = logSink()
  const seven = new MssqlDialect(new FakePool({ ...produtosServer(), pages: [page([['A-1', 'x', '1.0000', 1, '2024-02-29 23:59:59.9999999'], ['A-2', 'x', '1.0000', 1, '2024-02-29 23:59:59.1234560']])] }), { log: sink.log })
  t.same((await seven.readPage(products, undefined, 10)).map((r) => r[4]), ['2024-02-29T23:59:59.999999', '2024-02-29T23:59:59.123456'], 'cut, never rounded')
  t.same(sink.lines.filter((l) => l.level === 'warn').map((l) => l.obj), [{ stream: 'products', column: 'updated_at', from: 'Atualizado', truncated: 1 }], 'logged once, after the last page')

  const dup = new MssqlDialect(new FakePool({ ...produtosServer(), pages: [page([['A', null, null, null, null], ['A', null, null, null, null]])] }))
  await t.rejects(dup.readPage(products, undefined, 10), { code: 'SIS_SRC_KEY', message: /two source rows have the key \{sku: 'A'\}/ })

  await dialect.close()
  await dialect.close()
  t.equal(pool.closed, 1, 'the pool is closed once')
  await t.rejects(dialect.readPage(products, undefined, 10), { code: 'SIS_SRC_CLOSED' })
})

t.test('mssql dialect (without a server) – streamPages reads page after page, each after the last key', async (t) => {
  const ids = (from: number, n: number): unknown[][] => Array.from({ length: n }, (_, i) => [`${String(from + i).padStart(4, '0')}`, null, null, null, null])
  const pool = new FakePool({ ...produtosServer(), pages: [page(ids(0, 3)), page(ids(3, 3)), page(ids(6, 1))] })
  const dialect = new MssqlDialect(pool)
  const pages: WireRow[][] = []
  for await (const p of streamPages(dialect, products, 3)) pages.push(p)
  t.same(pages.map((p) => p.length), [3, 3, 1])
  t.same(pool.pageStatements.map((s) => s.params.k1?.[1] ?? null), [null, '0002', '0005'], 'each page continues after the previous page\'s last key')
  t.equal(pool.sent.filter((s) => s.sql === WRITE_ACCESS_SQL).length, 1, 'reading pages checks the login once')
  t.equal(pool.sent.filter((s) => s.sql === SILENT_FILTERS_SQL).length, 1, 'and the table\'s silent filters once')
})

t.test('mssql dialect (without a server) – after a failed read the database is asked again (snapshot isolation turned off)', async (t) => {
  const server: FakeServer = {
    ...produtosServer(),
    pages: [page([]), Object.assign(new Error("Snapshot isolation transaction failed accessing database 'ERP' because snapshot isolation is not allowed in this database."), { code: 'EREQUEST', number: 3952 }), page([])]
  }
  const pool = new FakePool(server)
  const dialect = new MssqlDialect(pool)
  await dialect.readPage(products, undefined, 10)
  server.database = ['ERP', 'OFF', false, 'READ_WRITE', '16.0', 'sisporta_reader', 'sisporta_reader']
  await t.rejects(dialect.readPage(products, undefined, 10), { code: 'SIS_SRC_READ', transient: true, message: /SQL Server error 3952/ }, 'transient: the retry plans the stream again')
  await dialect.readPage(products, undefined, 10)
  t.same(pool.pageStatements.map((s) => s.sql.split('\n')[0]), [
    'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;', 'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;', 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED;'
  ])
})
