import mssql from 'mssql'
import t from 'tap'
import type { ColumnMapping } from '@sisporta/contracts'
import { keyOf, streamPages, type WireRow } from '../src/index.js'
import { stream } from './fixtures.js'
import { liveServer, whenMssqlLive, type LiveLogin, type LiveServer, type Teardown } from './mssql-live-setup.js'

// The SQL Server dialect against a real server. No SQL Server can run on the development
// machines (design §6): this suite runs where SISPORTA_TEST_MSSQL_URL points at one with a login
// that may create databases and logins (Bitbucket's SQL Server service container, e.g.
// mssql://sa:…@127.0.0.1:1433/master?trustServerCertificate=true), and reports itself skipped
// otherwise (see mssql-live-setup.ts).

const EMOJI = 'Olá, São Paulo — ação «ü» 🚀👩🏽‍💻 中文'
const ORDERS = 125
const LINES = 20

/** One generated order line: [order id (bigint beyond 2^53), line, amount decimal(19,4), note]. */
type Line = [string, number, string, string]

function lines (): Line[] {
  const all: Line[] = []
  for (let d = 0; d < ORDERS; d++) {
    for (let l = 1; l <= LINES; l++) all.push([(9007199254740990n + BigInt(d)).toString(), l, `${d}.${String(l).padStart(4, '0')}`, `Olá 🚀 ${d}-${l}`])
  }
  return all
}

/**
 * Creates `sisporta_t_<random>` with schema `erp`, table `[Itens Pedido]` (composite key, every
 * common ERP type, 2,500 rows inserted in shuffled order) and a read-only login with SELECT on
 * that table only; drops database and login at teardown.
 */
async function setUp (t: Teardown): Promise<LiveServer & { readonly reader: LiveLogin }> {
  const live = await liveServer(t, { database: 'sisporta_t_', login: 'sisporta_ro_' })
  const { admin, reader: { name: login } } = live
  await admin.request().batch('CREATE SCHEMA erp')
  await admin.request().batch(`CREATE TABLE erp.[Itens Pedido] (
    Pedido bigint NOT NULL, Linha int NOT NULL,
    Valor decimal(19,4) NULL, Taxa numeric(38,10) NULL, Total money NULL, Grande bigint NULL, Qtd int NULL, Ativo bit NULL,
    Nota nvarchar(max) NULL, Ref varchar(20) NULL,
    Criado datetime NULL, Alterado datetime2(7) NULL, Dia date NULL, Hora time(7) NULL, Quando datetimeoffset(7) NULL,
    Guid uniqueidentifier NULL, Foto varbinary(16) NULL,
    CONSTRAINT PK_Itens_Pedido PRIMARY KEY (Pedido, Linha))`)
  await admin.request().batch('CREATE TABLE erp.SemChave (Id int NOT NULL, Nome nvarchar(40) NULL)')
  await admin.request().batch('CREATE TABLE dbo.NotGranted (Id int NOT NULL PRIMARY KEY)')
  const shuffled = lines().sort(() => Math.random() - 0.5)
  for (let i = 0; i < shuffled.length; i += 500) {
    const values = shuffled.slice(i, i + 500).map(([order, line, amount, note]) => `(${order}, ${line}, ${amount}, N'${note}')`).join(', ')
    await admin.request().batch(`INSERT INTO erp.[Itens Pedido] (Pedido, Linha, Valor, Nota) VALUES ${values}`)
  }
  // the first line carries one value of every type, at its edges
  await admin.request()
    .input('nota', mssql.NVarChar(mssql.MAX), EMOJI)
    .input('ref', mssql.VarChar(20), 'ação')
    .query(`UPDATE erp.[Itens Pedido] SET
      Valor = 123456789012345.6789, Taxa = -1234567890123456789012345678.0123456789, Total = 922337203685477.5807,
      Grande = 9223372036854775807, Qtd = -2147483648, Ativo = 1, Nota = @nota, Ref = @ref,
      Criado = '2024-02-29T23:59:59.997', Alterado = '2024-02-29T23:59:59.1234560', Dia = '0001-01-01', Hora = '23:59:59.1234567',
      Quando = '2024-01-01T10:00:00.1234560+02:00', Guid = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', Foto = 0x00FF10
      WHERE Pedido = 9007199254740990 AND Linha = 1`)
  await admin.request().batch(`CREATE USER [${login}] FOR LOGIN [${login}]; GRANT SELECT ON erp.[Itens Pedido] TO [${login}]; GRANT SELECT ON erp.SemChave TO [${login}]`)
  return live
}

const orderLines = stream({
  name: 'order_lines',
  source: { table: 'erp.Itens Pedido' },
  key: ['order_id', 'line'],
  columns: [
    { name: 'order_id', from: 'Pedido', type: 'bigint' },
    { name: 'line', from: 'Linha', type: 'int' },
    { name: 'amount', from: 'Valor', type: 'decimal', precision: 19, scale: 4 },
    { name: 'note', from: 'Nota', type: 'string' }
  ]
})

/** The order lines' key and amount, then every other column. */
const everyType = stream({
  name: 'every_type',
  source: { table: 'erp.Itens Pedido' },
  key: ['order_id', 'line'],
  columns: [
    ...orderLines.columns.slice(0, 3),
    { name: 'rate', from: 'Taxa', type: 'decimal', precision: 38, scale: 10 },
    { name: 'total', from: 'Total', type: 'decimal', precision: 19, scale: 4 },
    { name: 'big', from: 'Grande', type: 'bigint' },
    { name: 'qty', from: 'Qtd', type: 'int' },
    { name: 'active', from: 'Ativo', type: 'bool' },
    { name: 'note', from: 'Nota', type: 'string' },
    { name: 'ref', from: 'Ref', type: 'string' },
    { name: 'created', from: 'Criado', type: 'datetime' },
    { name: 'changed_text', from: 'Alterado', type: 'string' },
    { name: 'day', from: 'Dia', type: 'date' },
    { name: 'hour', from: 'Hora', type: 'string' },
    { name: 'at_utc', from: 'Quando', type: 'datetime', fraction: 'truncate' },
    { name: 'at_text', from: 'Quando', type: 'string' },
    { name: 'guid', from: 'Guid', type: 'uuid' },
    { name: 'photo', from: 'Foto', type: 'binary' }
  ]
})

whenMssqlLive('mssql live suite', () => {
  t.test('mssql live – composite key: every row exactly once, in key order, values exact', async (t) => {
    const live = await setUp(t)
    const dialect = live.open(live.reader.url)
    const d = await dialect.describe(orderLines)
    t.equal(d.object, '[erp].[Itens Pedido]')
    t.same(d.columns.map((c) => c.sourceType), ['bigint', 'int', 'decimal(19,4)', 'nvarchar(max)'])
    t.ok((await dialect.estimateRows(orderLines))! >= 2500, 'sys.partitions knows the rows')
    const pages: WireRow[][] = []
    for await (const page of streamPages(dialect, orderLines, 1000)) pages.push(page)
    t.same(pages.map((p) => p.length), [1000, 1000, 500])
    const expected = lines().map(([order, line, amount, note]) => [order, line, amount, note])
    expected[0] = [expected[0]![0], 1, '123456789012345.6789', EMOJI]
    t.same(pages.flat(), expected, 'all 2,500 rows, each once, in (order, line) order')
    const first = await dialect.readPage(orderLines, undefined, 7)
    const next = await dialect.readPage(orderLines, keyOf(orderLines, first[6]!), 30)
    t.same(next, expected.slice(7, 37), 'continues after a composite key, across orders')
    t.same(await dialect.readPage(orderLines, [expected.at(-1)![0], 20], 10), [], 'after the last key there is nothing')
  })

  t.test('mssql live – every type arrives exactly in the wire format', async (t) => {
    const live = await setUp(t)
    const dialect = live.open(live.reader.url)
    const [row] = await dialect.readPage(everyType, undefined, 1)
    const byName = Object.fromEntries(everyType.columns.map((c, i) => [c.name, row![i]]))
    t.same(byName, {
      order_id: '9007199254740990',
      line: 1,
      amount: '123456789012345.6789',
      rate: '-1234567890123456789012345678.0123456789',
      total: '922337203685477.5807',
      big: '9223372036854775807',
      qty: -2147483648,
      active: true,
      note: EMOJI,
      ref: 'ação',
      created: '2024-02-29T23:59:59.997',
      changed_text: '2024-02-29 23:59:59.1234560',
      day: '0001-01-01',
      hour: '23:59:59.1234567',
      at_utc: '2024-01-01T08:00:00.123456',
      at_text: '2024-01-01 10:00:00.1234560 +02:00',
      guid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      photo: 'AP8Q'
    })
    const [, second] = await dialect.readPage(everyType, undefined, 2)
    t.same(second, ['9007199254740990', 2, '0.0002', null, null, null, null, null, 'Olá 🚀 0-2', null, null, null, null, null, null, null, null, null], 'NULL is null')
  })

  t.test('mssql live – rows inserted and deleted during an extract: ahead of the cursor they are read, behind it they are not, nothing twice', async (t) => {
    const live = await setUp(t)
    const dialect = live.open(live.reader.url)
    const seen: WireRow[] = []
    let pageNo = 0
    for await (const page of streamPages(dialect, orderLines, 1000)) {
      seen.push(...page)
      if (++pageNo === 1) {
        // after the first page (keys up to the 50th order): one line behind the cursor, one ahead,
        // one past the last order; and a line ahead of the cursor deleted
        await live.admin.request().batch(`INSERT INTO erp.[Itens Pedido] (Pedido, Linha, Valor, Nota) VALUES
          (9007199254740990, 99, 1.0000, N'behind'), (9007199254741100, 99, 2.0000, N'ahead'), (9007199254749999, 1, 3.0000, N'after the last');
          DELETE FROM erp.[Itens Pedido] WHERE Pedido = 9007199254741090 AND Linha = 5`)
      }
    }
    const notes = new Set(seen.map((r) => r[3]))
    t.notOk(notes.has('behind'), 'a row inserted behind the cursor is not read (the next load carries it)')
    t.ok(notes.has('ahead') && notes.has('after the last'), 'rows inserted ahead of the cursor are read')
    t.notOk(seen.some((r) => r[0] === '9007199254741090' && r[1] === 5), 'a row deleted ahead of the cursor is not read')
    const keys = seen.map((r) => `${String(r[0])}/${String(r[1])}`)
    t.equal(new Set(keys).size, keys.length, 'no row twice')
    t.equal(seen.length, 2500 + 2 - 1, 'every other row once')
  })

  t.test('mssql live – a datetime2(7) column is refused before reading unless it declares fraction: truncate, which cuts, never rounds', async (t) => {
    const live = await setUp(t)
    const dialect = live.open(live.reader.url)
    const columns = (extra: Record<string, unknown>): ColumnMapping[] => [{ name: 'order_id', from: 'Pedido', type: 'bigint' }, { name: 'line', from: 'Linha', type: 'int' }, { name: 'changed', from: 'Alterado', type: 'datetime', ...extra } as ColumnMapping]
    const refused = stream({ name: 'changed', source: { table: 'erp.Itens Pedido' }, key: ['order_id', 'line'], columns: columns({}) })
    await t.rejects(dialect.readPage(refused, undefined, 1), { code: 'SIS_SRC_TYPE', message: /changed/ }, 'datetime2(7) as datetime, without fraction: truncate')
    const cut = stream({ name: 'changed_cut', source: { table: 'erp.Itens Pedido' }, key: ['order_id', 'line'], columns: columns({ fraction: 'truncate' }) })
    t.same(await dialect.readPage(cut, undefined, 1), [['9007199254740990', 1, '2024-02-29T23:59:59.123456']], 'a zero 7th digit is dropped')
    await live.admin.request().batch("UPDATE erp.[Itens Pedido] SET Alterado = '2024-02-29T23:59:59.9999999' WHERE Pedido = 9007199254740990 AND Linha = 1")
    t.same(await dialect.readPage(cut, undefined, 1), [['9007199254740990', 1, '2024-02-29T23:59:59.999999']], 'a non-zero 7th digit is cut, not rounded up to the next second')
  })

  t.test('mssql live – pages read at SNAPSHOT isolation, set for the page only', async (t) => {
    const live = await setUp(t)
    const dialect = live.open(live.reader.url)
    const session = stream({
      name: 'session',
      source: { query: 'SELECT 1 AS id, s.transaction_isolation_level AS iso FROM sys.dm_exec_sessions AS s WHERE s.session_id = @@SPID' },
      key: ['id'],
      columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'iso', from: 'iso', type: 'int' }]
    })
    t.same(await dialect.readPage(session, undefined, 10), [[1, 5]], '5 = SNAPSHOT')
    const nolock = stream({ ...session, name: 'session_nolock', source: { ...session.source, nolock: true }, key: ['id'], columns: [...session.columns] })
    t.same(await dialect.readPage(nolock, undefined, 10), [[1, 1]], '1 = READ UNCOMMITTED for a nolock stream')
  })

  t.test('mssql live – a query stream paginates with a composite key', async (t) => {
    const live = await setUp(t)
    const dialect = live.open(live.reader.url)
    const even = stream({
      name: 'even_lines',
      source: { query: 'SELECT i.Pedido AS order_id, i.Linha AS line, CAST(i.Valor * 2 AS decimal(20,4)) AS twice FROM erp.[Itens Pedido] AS i WHERE i.Linha % 2 = 0 -- even lines\n;' },
      key: ['order_id', 'line'],
      columns: [{ name: 'order_id', from: 'order_id', type: 'bigint' }, { name: 'line', from: 'LINE', type: 'int' }, { name: 'twice', from: 'twice', type: 'decimal' }]
    })
    const d = await dialect.describe(even)
    t.same(d.columns.map((c) => [c.from, c.sourceType]), [['order_id', 'bigint'], ['line', 'int'], ['twice', 'decimal(20,4)']])
    const sizes: number[] = []
    const rows: WireRow[] = []
    for await (const page of streamPages(dialect, even, 300)) { sizes.push(page.length); rows.push(...page) }
    t.same(sizes, [300, 300, 300, 300, 50])
    t.same(rows[1], ['9007199254740990', 4, '0.0008'])
  })

  t.test('mssql live – a login that can write is refused unless allowed; schema checks', async (t) => {
    const live = await setUp(t)
    const admin = live.open(live.adminUrl)
    await t.rejects(admin.describe(orderLines), { code: 'SIS_SRC_WRITABLE_LOGIN', message: /can .*sysadmin|db_owner/ })
    const allowed = live.open(live.adminUrl, { allowWritableLogin: true })
    t.equal((await allowed.readPage(orderLines, undefined, 3)).length, 3)
    const reader = live.open(live.reader.url)
    await t.rejects(reader.describe(stream({ name: 'no_key', source: { table: 'erp.SemChave' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }] })),
      { code: 'SIS_SRC_KEY', message: /not known to be unique/ })
    await t.rejects(reader.describe(stream({ name: 'narrow', source: { table: 'erp.Itens Pedido' }, key: ['order_id', 'line'], columns: [{ name: 'order_id', from: 'Pedido', type: 'int' }, { name: 'line', from: 'Linha', type: 'int' }] })),
      { code: 'SIS_SRC_TYPE', column: 'order_id', message: /bigint cannot be read as int/ })
    await t.rejects(reader.describe(stream({ name: 'hidden', source: { table: 'dbo.NotGranted' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }] })),
      { code: 'SIS_SRC_TABLE_NOT_FOUND' })
  })
})
