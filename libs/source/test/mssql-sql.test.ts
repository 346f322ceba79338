import t from 'tap'
import {
  DATABASE_SQL, DESCRIBE_QUERY_SQL, ESTIMATE_ROWS_SQL, FIND_OBJECT_SQL, TABLE_COLUMNS_SQL,
  UNIQUE_INDEXES_SQL, buildKeysetCondition, buildPageSql, buildQueryDescribeSql, declareParameterType, isolationSql,
  quoteIdentifier, quoteQualified, renderScalarType, renderSelectColumn, type MssqlKeyColumn, type MssqlPageSpec
} from '../src/mssql/mssql-sql.js'

// Without a server: these assert the exact T-SQL text the SQL Server dialect sends.

const plain = (column: string): MssqlKeyColumn => ({ column, compare: { kind: 'plain' } })

const products: MssqlPageSpec = {
  source: { table: ['dbo', 'Produtos'] },
  columns: [{ column: 'Codigo', read: 'native' }, { column: 'Descricao', read: 'native' }, { column: 'Preco', read: 'decimal-text' }],
  key: [plain('Codigo')],
  isolation: 'SNAPSHOT',
  nolock: false
}

t.test('mssql sql – single key: first page and next page', async (t) => {
  t.equal(buildPageSql(products, false),
    'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n' +
    'SELECT TOP (@n) s.[Codigo], s.[Descricao], CONVERT(varchar(64), s.[Preco]) AS [Preco] FROM [dbo].[Produtos] AS s ORDER BY s.[Codigo];')
  t.equal(buildPageSql(products, true),
    'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n' +
    'SELECT TOP (@n) s.[Codigo], s.[Descricao], CONVERT(varchar(64), s.[Preco]) AS [Preco] FROM [dbo].[Produtos] AS s WHERE s.[Codigo] > @k1 ORDER BY s.[Codigo];')
})

t.test('mssql sql – composite keys expand into OR terms behind a seekable leading range', async (t) => {
  const lines: MssqlPageSpec = {
    source: { table: ['erp', 'ItensPedido'] },
    columns: [{ column: 'Pedido', read: 'native' }, { column: 'Linha', read: 'native' }, { column: 'Qtd', read: 'decimal-text' }],
    key: [plain('Pedido'), plain('Linha')],
    isolation: 'READ COMMITTED',
    nolock: false
  }
  t.equal(buildPageSql(lines, false),
    'SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\n' +
    'SELECT TOP (@n) s.[Pedido], s.[Linha], CONVERT(varchar(64), s.[Qtd]) AS [Qtd] FROM [erp].[ItensPedido] AS s ORDER BY s.[Pedido], s.[Linha];')
  t.equal(buildPageSql(lines, true),
    'SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\n' +
    'SELECT TOP (@n) s.[Pedido], s.[Linha], CONVERT(varchar(64), s.[Qtd]) AS [Qtd] FROM [erp].[ItensPedido] AS s ' +
    'WHERE s.[Pedido] >= @k1 AND (s.[Pedido] > @k1 OR (s.[Pedido] = @k1 AND s.[Linha] > @k2)) ORDER BY s.[Pedido], s.[Linha];')
  t.equal(buildKeysetCondition('s', [plain('a'), plain('b'), plain('c')]),
    's.[a] >= @k1 AND (s.[a] > @k1 OR (s.[a] = @k1 AND s.[b] > @k2) OR (s.[a] = @k1 AND s.[b] = @k2 AND s.[c] > @k3))',
    'three columns: each parameter named once, used where needed')
  t.equal(buildKeysetCondition('s', [plain('a')]), 's.[a] > @k1', 'a single key needs no leading range')
})

t.test('mssql sql – key values convert to the column type in SQL Server, never through JavaScript numbers', async (t) => {
  const key: MssqlKeyColumn[] = [
    { column: 'Empresa', compare: { kind: 'convert', type: { name: 'bigint' } } },
    { column: 'Valor', compare: { kind: 'convert', type: { name: 'decimal', precision: 38, scale: 10 } } },
    { column: 'Em', compare: { kind: 'convert', type: { name: 'datetime2', scale: 7 }, style: 121 } }
  ]
  t.equal(buildKeysetCondition('s', key),
    's.[Empresa] >= CONVERT(bigint, @k1) AND (s.[Empresa] > CONVERT(bigint, @k1) OR ' +
    '(s.[Empresa] = CONVERT(bigint, @k1) AND s.[Valor] > CONVERT(decimal(38,10), @k2)) OR ' +
    '(s.[Empresa] = CONVERT(bigint, @k1) AND s.[Valor] = CONVERT(decimal(38,10), @k2) AND s.[Em] > CONVERT(datetime2(7), @k3, 121)))')
  t.equal(buildKeysetCondition('s', [{ column: 'Dia', compare: { kind: 'convert', type: { name: 'date' }, style: 23 } }]), 's.[Dia] > CONVERT(date, @k1, 23)')
  t.equal(buildKeysetCondition('s', [{ column: 'Id', compare: { kind: 'convert', type: { name: 'uniqueidentifier' } } }]), 's.[Id] > CONVERT(uniqueidentifier, @k1)')
  t.equal(renderScalarType({ name: 'numeric', precision: 18, scale: 0 }), 'numeric(18,0)')
  t.equal(renderScalarType({ name: 'time', scale: 3 }), 'time(3)')
  t.equal(renderScalarType({ name: 'money' }), 'money')
  t.throws(() => renderScalarType({ name: 'decimal', precision: 39, scale: 0 }), { code: 'SIS_SRC_ARGUMENT' })
  t.throws(() => renderScalarType({ name: 'decimal', precision: 5, scale: 6 }), { code: 'SIS_SRC_ARGUMENT' })
  t.throws(() => renderScalarType({ name: 'datetime2', scale: 8 }), { code: 'SIS_SRC_ARGUMENT' })
})

t.test('mssql sql – exact values are selected as text SQL Server writes', async (t) => {
  const cases: [Parameters<typeof renderSelectColumn>[1]['read'], string][] = [
    ['native', 's.[c]'],
    ['decimal-text', 'CONVERT(varchar(64), s.[c]) AS [c]'],
    ['money-text', 'CONVERT(varchar(64), s.[c], 2) AS [c]'],
    ['bigint-text', 'CONVERT(varchar(20), s.[c]) AS [c]'],
    ['date-text', 'CONVERT(varchar(10), s.[c], 23) AS [c]'],
    ['datetime-text', 'CONVERT(varchar(27), s.[c], 121) AS [c]'],
    ['time-text', 'CONVERT(varchar(16), s.[c], 121) AS [c]'],
    ['utc-datetime-text', "CONVERT(varchar(27), CONVERT(datetime2(7), SWITCHOFFSET(s.[c], '+00:00')), 121) AS [c]"],
    ['offset-text', 'CONVERT(varchar(34), s.[c], 121) AS [c]'],
    ['rowversion-bigint-text', 'CONVERT(varchar(20), CONVERT(bigint, s.[c])) AS [c]'],
    ['unicode-text', 'CONVERT(nvarchar(max), s.[c]) AS [c]'],
    ['variant-text', "CASE CONVERT(nvarchar(128), SQL_VARIANT_PROPERTY(s.[c], 'BaseType'))" +
      " WHEN 'float' THEN CONVERT(nvarchar(max), CONVERT(float, s.[c]), 3) WHEN 'real' THEN CONVERT(nvarchar(max), CONVERT(float, s.[c]), 3)" +
      " WHEN 'money' THEN CONVERT(nvarchar(max), CONVERT(money, s.[c]), 2) WHEN 'smallmoney' THEN CONVERT(nvarchar(max), CONVERT(smallmoney, s.[c]), 2)" +
      " WHEN 'datetime' THEN CONVERT(nvarchar(max), CONVERT(datetime, s.[c]), 121) WHEN 'smalldatetime' THEN CONVERT(nvarchar(max), CONVERT(smalldatetime, s.[c]), 121)" +
      " WHEN 'datetime2' THEN CONVERT(nvarchar(max), CONVERT(datetime2(7), s.[c]), 121) WHEN 'datetimeoffset' THEN CONVERT(nvarchar(max), CONVERT(datetimeoffset(7), s.[c]), 121)" +
      " WHEN 'time' THEN CONVERT(nvarchar(max), CONVERT(time(7), s.[c]), 121) WHEN 'date' THEN CONVERT(nvarchar(max), CONVERT(date, s.[c]), 23)" +
      " WHEN 'binary' THEN CONVERT(nvarchar(max), CONVERT(varbinary(8000), s.[c]), 1) WHEN 'varbinary' THEN CONVERT(nvarchar(max), CONVERT(varbinary(8000), s.[c]), 1)" +
      ' ELSE CONVERT(nvarchar(max), s.[c]) END AS [c]']
  ]
  for (const [read, sql] of cases) t.equal(renderSelectColumn('s', { column: 'c', read }), sql, read)
})

t.test('mssql sql – a query stream is wrapped as a derived table, its trailing comment and semicolon harmless', async (t) => {
  const spec: MssqlPageSpec = {
    source: { query: '  SELECT p.Codigo AS sku, p.Preco AS price FROM dbo.Produtos p WHERE p.Ativo = 1 -- live only\n;  ' },
    columns: [{ column: 'sku', read: 'native' }, { column: 'price', read: 'money-text' }],
    key: [plain('sku')],
    isolation: 'SNAPSHOT',
    nolock: false
  }
  t.equal(buildPageSql(spec, false),
    'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n' +
    'SELECT TOP (@n) q.[sku], CONVERT(varchar(64), q.[price], 2) AS [price] FROM (\n' +
    'SELECT p.Codigo AS sku, p.Preco AS price FROM dbo.Produtos p WHERE p.Ativo = 1 -- live only\n' +
    ') AS q ORDER BY q.[sku];')
  t.equal(buildPageSql(spec, true),
    'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n' +
    'SELECT TOP (@n) q.[sku], CONVERT(varchar(64), q.[price], 2) AS [price] FROM (\n' +
    'SELECT p.Codigo AS sku, p.Preco AS price FROM dbo.Produtos p WHERE p.Ativo = 1 -- live only\n' +
    ') AS q WHERE q.[sku] > @k1 ORDER BY q.[sku];')
  t.equal(buildQueryDescribeSql('SELECT 1 AS a;'), 'SELECT * FROM (\nSELECT 1 AS a\n) AS q')
})

t.test('mssql sql – NOLOCK only when asked, isolation set inside the page batch', async (t) => {
  const nolock = { ...products, isolation: 'READ UNCOMMITTED' as const, nolock: true }
  t.equal(buildPageSql(nolock, true),
    'SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED;\n' +
    'SELECT TOP (@n) s.[Codigo], s.[Descricao], CONVERT(varchar(64), s.[Preco]) AS [Preco] FROM [dbo].[Produtos] AS s WITH (NOLOCK) WHERE s.[Codigo] > @k1 ORDER BY s.[Codigo];')
  t.notMatch(buildPageSql(products, true), /NOLOCK/)
  const query = { ...nolock, source: { query: 'SELECT Codigo, Descricao, Preco FROM dbo.Produtos' } }
  t.notMatch(buildPageSql(query, false), /NOLOCK/, 'a derived table takes no table hint: its isolation level does the same')
  t.match(buildPageSql(query, false), /^SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED;\n/)
  t.equal(isolationSql('SNAPSHOT'), 'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;')
  t.equal(isolationSql('READ COMMITTED'), 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED;')
  t.equal(isolationSql('READ UNCOMMITTED'), 'SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED;')
})

t.test('mssql sql – odd names are bracket-quoted, ] doubled', async (t) => {
  t.equal(quoteIdentifier('Preço Unitário'), '[Preço Unitário]')
  t.equal(quoteIdentifier('a]b'), '[a]]b]')
  t.equal(quoteIdentifier('x]; DROP TABLE t; --'), '[x]]; DROP TABLE t; --]')
  t.equal(quoteIdentifier('名前 🚀'), '[名前 🚀]')
  t.equal(quoteIdentifier('[already]'), '[[already]]]')
  t.equal(quoteQualified(['my schema', 'order']), '[my schema].[order]')
  t.equal(buildPageSql({
    source: { table: ['dbo', 'Order Lines]'] },
    columns: [{ column: 'select', read: 'native' }, { column: 'Preço]', read: 'money-text' }],
    key: [plain('select')],
    isolation: 'SNAPSHOT',
    nolock: false
  }, true),
  'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n' +
  'SELECT TOP (@n) s.[select], CONVERT(varchar(64), s.[Preço]]], 2) AS [Preço]]] FROM [dbo].[Order Lines]]] AS s WHERE s.[select] > @k1 ORDER BY s.[select];')
  t.throws(() => quoteIdentifier(''), { code: 'SIS_SRC_ARGUMENT' })
  t.throws(() => quoteIdentifier('a\u0000b'), { code: 'SIS_SRC_ARGUMENT' })
  t.throws(() => quoteIdentifier('x'.repeat(129)), { code: 'SIS_SRC_ARGUMENT' })
  t.throws(() => buildPageSql({ ...products, key: [] }, false), { code: 'SIS_SRC_ARGUMENT' })
})

t.test('mssql sql – parameter declarations', async (t) => {
  t.equal(declareParameterType({ kind: 'int' }), 'int')
  t.equal(declareParameterType({ kind: 'bit' }), 'bit')
  t.equal(declareParameterType({ kind: 'varchar', length: 20 }), 'varchar(20)')
  t.equal(declareParameterType({ kind: 'nvarchar', length: -1 }), 'nvarchar(max)')
  t.equal(declareParameterType({ kind: 'varbinary', length: 16 }), 'varbinary(16)')
  t.throws(() => declareParameterType({ kind: 'nvarchar', length: 4001 }), { code: 'SIS_SRC_ARGUMENT' })
})

t.test('mssql sql – catalogue queries', async (t) => {
  t.equal(DATABASE_SQL,
    "SELECT DB_NAME(), d.snapshot_isolation_state_desc, d.is_read_committed_snapshot_on, CONVERT(nvarchar(128), DATABASEPROPERTYEX(DB_NAME(), 'Updateability')), " +
    "CONVERT(nvarchar(128), SERVERPROPERTY('ProductVersion')), SUSER_SNAME(), USER_NAME() FROM sys.databases AS d WHERE d.database_id = DB_ID();")
  t.equal(FIND_OBJECT_SQL,
    'SELECT s.name, o.name, o.type, o.object_id FROM sys.objects AS o JOIN sys.schemas AS s ON s.schema_id = o.schema_id ' +
    "WHERE o.name = @name AND (s.name = @schema OR (@schema IS NULL AND s.name IN (SCHEMA_NAME(), N'dbo'))) AND o.type IN ('U', 'V', 'SN') " +
    'ORDER BY CASE WHEN s.name = SCHEMA_NAME() THEN 0 ELSE 1 END;')
  t.equal(TABLE_COLUMNS_SQL,
    'SELECT c.name, COALESCE(bt.name, ut.name), c.max_length, c.precision, c.scale, c.is_nullable, c.collation_name ' +
    'FROM sys.columns AS c JOIN sys.types AS ut ON ut.user_type_id = c.user_type_id ' +
    'LEFT JOIN sys.types AS bt ON bt.user_type_id = c.system_type_id AND bt.is_user_defined = 0 ' +
    'WHERE c.object_id = @object_id ORDER BY c.column_id;')
  t.equal(UNIQUE_INDEXES_SQL,
    'SELECT i.index_id, i.name, i.is_primary_key, c.name FROM sys.indexes AS i ' +
    'JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id ' +
    'JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id ' +
    'WHERE i.object_id = @object_id AND i.is_unique = 1 AND i.is_disabled = 0 AND i.has_filter = 0 AND ic.is_included_column = 0 ' +
    'ORDER BY i.index_id, ic.key_ordinal;')
  t.equal(DESCRIBE_QUERY_SQL,
    'SELECT name, system_type_name, max_length, precision, scale, is_nullable, collation_name, error_number, error_message ' +
    'FROM sys.dm_exec_describe_first_result_set(@tsql, NULL, 0) WHERE is_hidden = 0 OR is_hidden IS NULL ORDER BY column_ordinal;')
  t.equal(ESTIMATE_ROWS_SQL, 'SELECT SUM(p.rows) FROM sys.partitions AS p WHERE p.object_id = @object_id AND p.index_id IN (0, 1);')
})

// the login-wide write check's exact T-SQL is asserted in mssql-write-access.test.ts
