import t from 'tap'
import { SourceError } from '../src/index.js'
import {
  READ_OBJECTS_CTE, SILENT_FILTERS_INNER_SQL, SILENT_FILTERS_SQL, checkSilentFilters, hiddenPoliciesWarning, silentFilterFacts, silentFiltersParameters
} from '../src/mssql/mssql-silent-filters.js'
import { stream } from './fixtures.js'

// Row-Level Security, Dynamic Data Masking and memory-optimized tables at describe (issue 12,
// defects 11 and 8): the statement to the character and the decision on its rows. Against a
// real server: mssql-live-permissions.test.ts.

const clientes = (source: { allowFiltered?: boolean } = {}) => stream({
  name: 'customers',
  source: { table: 'dbo.Clientes', ...source },
  key: ['id'],
  columns: [{ name: 'id', from: 'Id', type: 'int' }, { name: 'email', from: 'Email', type: 'string' }]
})

t.test('mssql silent filters – one statement over what the stream reads; the 2016 catalogue only where the server has it', async (t) => {
  t.equal(SILENT_FILTERS_SQL,
    'IF OBJECT_ID(N\'sys.security_policies\') IS NULL BEGIN\n' +
    'WITH seed (id) AS (SELECT @object_id WHERE @object_id IS NOT NULL\n' +
    'UNION SELECT OBJECT_ID(QUOTENAME(r.source_schema) + N\'.\' + QUOTENAME(r.source_table)) FROM sys.dm_exec_describe_first_result_set(COALESCE(@tsql, N\'SELECT 1 AS x\'), NULL, 1) AS r WHERE @tsql IS NOT NULL AND r.source_table IS NOT NULL AND r.source_server IS NULL AND (r.source_database IS NULL OR r.source_database = DB_NAME())\n' +
    'UNION SELECT o.object_id FROM sys.objects AS o WHERE @query IS NOT NULL AND o.is_ms_shipped = 0 AND o.type IN (\'U\', \'V\', \'SN\', \'IF\', \'TF\', \'FN\') AND CHARINDEX(o.name, @query) > 0),\n' +
    'reach (id, depth) AS (SELECT id, 0 FROM seed WHERE id IS NOT NULL\n' +
    'UNION ALL SELECT d.referenced_id, r.depth + 1 FROM reach AS r JOIN sys.sql_expression_dependencies AS d ON d.referencing_id = r.id WHERE d.referenced_class = 1 AND d.referenced_id IS NOT NULL AND OBJECTPROPERTY(r.id, N\'IsUserTable\') = 0 AND r.depth < 16\n' +
    'UNION ALL SELECT OBJECT_ID(sn.base_object_name), r.depth + 1 FROM reach AS r JOIN sys.synonyms AS sn ON sn.object_id = r.id WHERE OBJECT_ID(sn.base_object_name) IS NOT NULL AND r.depth < 16),\n' +
    'objects (id) AS (SELECT DISTINCT id FROM reach)\n' +
    'SELECT N\'memory-optimized\', QUOTENAME(OBJECT_SCHEMA_NAME(x.id)) + N\'.\' + QUOTENAME(OBJECT_NAME(x.id)), CONVERT(nvarchar(max), NULL), CONVERT(nvarchar(max), NULL) FROM objects AS x WHERE OBJECTPROPERTY(x.id, N\'TableIsMemoryOptimized\') = 1\n' +
    'UNION ALL SELECT N\'unresolved\', CONCAT(QUOTENAME(r.source_server) + N\'.\', QUOTENAME(r.source_database) + N\'.\', QUOTENAME(r.source_schema) + N\'.\', QUOTENAME(r.source_table)), CONVERT(nvarchar(max), NULL), CONVERT(nvarchar(max), NULL) FROM sys.dm_exec_describe_first_result_set(COALESCE(@tsql, N\'SELECT 1 AS x\'), NULL, 1) AS r WHERE @tsql IS NOT NULL AND r.source_table IS NOT NULL AND (r.source_server IS NOT NULL OR r.source_database <> DB_NAME()) AND ISNULL(r.source_database, N\'\') <> N\'mssqlsystemresource\' AND ISNULL(r.source_schema, N\'\') NOT IN (N\'sys\', N\'INFORMATION_SCHEMA\')\n' +
    'UNION ALL SELECT N\'unresolved\', CONCAT(QUOTENAME(d.referenced_server_name) + N\'.\', QUOTENAME(d.referenced_database_name) + N\'.\', QUOTENAME(d.referenced_schema_name) + N\'.\', QUOTENAME(d.referenced_entity_name)), QUOTENAME(OBJECT_SCHEMA_NAME(d.referencing_id)) + N\'.\' + QUOTENAME(OBJECT_NAME(d.referencing_id)), CONVERT(nvarchar(max), NULL) FROM sys.sql_expression_dependencies AS d WHERE d.referencing_id IN (SELECT id FROM objects) AND d.referenced_class = 1 AND d.referenced_id IS NULL AND (d.referenced_database_name IS NOT NULL OR d.referenced_server_name IS NOT NULL)\n' +
    'UNION ALL SELECT N\'source\', r.name, CASE WHEN OBJECTPROPERTY(OBJECT_ID(QUOTENAME(r.source_schema) + N\'.\' + QUOTENAME(r.source_table)), N\'IsUserTable\') = 1 THEN QUOTENAME(r.source_schema) + N\'.\' + QUOTENAME(r.source_table) END, r.source_column FROM sys.dm_exec_describe_first_result_set(COALESCE(@tsql, N\'SELECT 1 AS x\'), NULL, 1) AS r WHERE @tsql IS NOT NULL AND r.is_hidden = 0;\n' +
    'END ELSE BEGIN\n' +
    'EXECUTE sys.sp_executesql N\'WITH seed (id) AS (SELECT @object_id WHERE @object_id IS NOT NULL\n' +
    'UNION SELECT OBJECT_ID(QUOTENAME(r.source_schema) + N\'\'.\'\' + QUOTENAME(r.source_table)) FROM sys.dm_exec_describe_first_result_set(COALESCE(@tsql, N\'\'SELECT 1 AS x\'\'), NULL, 1) AS r WHERE @tsql IS NOT NULL AND r.source_table IS NOT NULL AND r.source_server IS NULL AND (r.source_database IS NULL OR r.source_database = DB_NAME())\n' +
    'UNION SELECT o.object_id FROM sys.objects AS o WHERE @query IS NOT NULL AND o.is_ms_shipped = 0 AND o.type IN (\'\'U\'\', \'\'V\'\', \'\'SN\'\', \'\'IF\'\', \'\'TF\'\', \'\'FN\'\') AND CHARINDEX(o.name, @query) > 0),\n' +
    'reach (id, depth) AS (SELECT id, 0 FROM seed WHERE id IS NOT NULL\n' +
    'UNION ALL SELECT d.referenced_id, r.depth + 1 FROM reach AS r JOIN sys.sql_expression_dependencies AS d ON d.referencing_id = r.id WHERE d.referenced_class = 1 AND d.referenced_id IS NOT NULL AND OBJECTPROPERTY(r.id, N\'\'IsUserTable\'\') = 0 AND r.depth < 16\n' +
    'UNION ALL SELECT OBJECT_ID(sn.base_object_name), r.depth + 1 FROM reach AS r JOIN sys.synonyms AS sn ON sn.object_id = r.id WHERE OBJECT_ID(sn.base_object_name) IS NOT NULL AND r.depth < 16),\n' +
    'objects (id) AS (SELECT DISTINCT id FROM reach)\n' +
    'SELECT N\'\'memory-optimized\'\', QUOTENAME(OBJECT_SCHEMA_NAME(x.id)) + N\'\'.\'\' + QUOTENAME(OBJECT_NAME(x.id)), CONVERT(nvarchar(max), NULL), CONVERT(nvarchar(max), NULL) FROM objects AS x WHERE OBJECTPROPERTY(x.id, N\'\'TableIsMemoryOptimized\'\') = 1\n' +
    'UNION ALL SELECT N\'\'unresolved\'\', CONCAT(QUOTENAME(r.source_server) + N\'\'.\'\', QUOTENAME(r.source_database) + N\'\'.\'\', QUOTENAME(r.source_schema) + N\'\'.\'\', QUOTENAME(r.source_table)), CONVERT(nvarchar(max), NULL), CONVERT(nvarchar(max), NULL) FROM sys.dm_exec_describe_first_result_set(COALESCE(@tsql, N\'\'SELECT 1 AS x\'\'), NULL, 1) AS r WHERE @tsql IS NOT NULL AND r.source_table IS NOT NULL AND (r.source_server IS NOT NULL OR r.source_database <> DB_NAME()) AND ISNULL(r.source_database, N\'\'\'\') <> N\'\'mssqlsystemresource\'\' AND ISNULL(r.source_schema, N\'\'\'\') NOT IN (N\'\'sys\'\', N\'\'INFORMATION_SCHEMA\'\')\n' +
    'UNION ALL SELECT N\'\'unresolved\'\', CONCAT(QUOTENAME(d.referenced_server_name) + N\'\'.\'\', QUOTENAME(d.referenced_database_name) + N\'\'.\'\', QUOTENAME(d.referenced_schema_name) + N\'\'.\'\', QUOTENAME(d.referenced_entity_name)), QUOTENAME(OBJECT_SCHEMA_NAME(d.referencing_id)) + N\'\'.\'\' + QUOTENAME(OBJECT_NAME(d.referencing_id)), CONVERT(nvarchar(max), NULL) FROM sys.sql_expression_dependencies AS d WHERE d.referencing_id IN (SELECT id FROM objects) AND d.referenced_class = 1 AND d.referenced_id IS NULL AND (d.referenced_database_name IS NOT NULL OR d.referenced_server_name IS NOT NULL)\n' +
    'UNION ALL SELECT N\'\'source\'\', r.name, CASE WHEN OBJECTPROPERTY(OBJECT_ID(QUOTENAME(r.source_schema) + N\'\'.\'\' + QUOTENAME(r.source_table)), N\'\'IsUserTable\'\') = 1 THEN QUOTENAME(r.source_schema) + N\'\'.\'\' + QUOTENAME(r.source_table) END, r.source_column FROM sys.dm_exec_describe_first_result_set(COALESCE(@tsql, N\'\'SELECT 1 AS x\'\'), NULL, 1) AS r WHERE @tsql IS NOT NULL AND r.is_hidden = 0\n' +
    'UNION ALL SELECT N\'\'rls\'\', QUOTENAME(OBJECT_SCHEMA_NAME(pr.target_object_id)) + N\'\'.\'\' + QUOTENAME(OBJECT_NAME(pr.target_object_id)), QUOTENAME(SCHEMA_NAME(sp.schema_id)) + N\'\'.\'\' + QUOTENAME(sp.name), pr.predicate_definition FROM sys.security_policies AS sp JOIN sys.security_predicates AS pr ON pr.object_id = sp.object_id WHERE sp.is_enabled = 1 AND pr.predicate_type = 0 AND pr.target_object_id IN (SELECT id FROM objects)\n' +
    'UNION ALL SELECT N\'\'mask\'\', QUOTENAME(OBJECT_SCHEMA_NAME(mc.object_id)) + N\'\'.\'\' + QUOTENAME(OBJECT_NAME(mc.object_id)), mc.name, mc.masking_function FROM sys.masked_columns AS mc WHERE mc.is_masked = 1 AND mc.object_id IN (SELECT id FROM objects) AND ISNULL(HAS_PERMS_BY_NAME(QUOTENAME(OBJECT_SCHEMA_NAME(mc.object_id)) + N\'\'.\'\' + QUOTENAME(OBJECT_NAME(mc.object_id)), N\'\'OBJECT\'\', N\'\'UNMASK\'\', mc.name, N\'\'COLUMN\'\'), 0) = 0 AND ISNULL(HAS_PERMS_BY_NAME(NULL, N\'\'DATABASE\'\', N\'\'UNMASK\'\'), 0) = 0\n' +
    'UNION ALL SELECT N\'\'policies-hidden\'\', CONVERT(nvarchar(max), NULL), CONVERT(nvarchar(max), NULL), CONVERT(nvarchar(max), NULL) WHERE ISNULL(HAS_PERMS_BY_NAME(NULL, N\'\'DATABASE\'\', N\'\'VIEW DEFINITION\'\'), 0) = 0 AND ISNULL(HAS_PERMS_BY_NAME(NULL, N\'\'DATABASE\'\', N\'\'ALTER ANY SECURITY POLICY\'\'), 0) = 0;\', N\'@object_id int, @tsql nvarchar(max), @query nvarchar(max)\', @object_id = @object_id, @tsql = @tsql, @query = @query;\n' +
    'END;')
  t.ok(SILENT_FILTERS_SQL.includes(`N'${SILENT_FILTERS_INNER_SQL.replaceAll("'", "''")}'`), 'the inner statement travels as one N literal, quotes doubled')
  t.ok(SILENT_FILTERS_INNER_SQL.startsWith(READ_OBJECTS_CTE), 'both forms read the same objects')
  const text = (name: string, value: string | null) => ({ name, type: { kind: 'nvarchar', length: -1 }, value })
  t.same(silentFiltersParameters({ kind: 'table', objectId: 1234 }),
    [{ name: 'object_id', type: { kind: 'int' }, value: 1234 }, text('tsql', null), text('query', null)], 'a table: itself only')
  t.same(silentFiltersParameters({ kind: 'view', objectId: 77, object: '[dbo].[vClientes]' }),
    [{ name: 'object_id', type: { kind: 'int' }, value: 77 }, text('tsql', 'SELECT * FROM [dbo].[vClientes]'), text('query', null)], 'a view: itself, and its columns described with browse information')
  t.same(silentFiltersParameters({ kind: 'query', query: 'SELECT c.Id FROM dbo.Clientes AS c', describeSql: 'SELECT * FROM (SELECT c.Id FROM dbo.Clientes AS c) AS q' }),
    [{ name: 'object_id', type: { kind: 'int' }, value: null }, text('tsql', 'SELECT * FROM (SELECT c.Id FROM dbo.Clientes AS c) AS q'), text('query', 'SELECT c.Id FROM dbo.Clientes AS c')],
    'a query: its described result columns, and every object its text names')
})

t.test('mssql silent filters – rows to facts: policies, masks of mapped columns, memory-optimized, hidden policies', async (t) => {
  const none = silentFilterFacts([], '[dbo].[Clientes]', ['Id', 'Email'])
  t.same(none, { memoryOptimized: false, memoryOptimizedReads: [], filters: [], masks: [], unresolved: [], policiesHidden: false })
  const facts = silentFilterFacts([
    ['memory-optimized', '[dbo].[Clientes]', null, null],
    ['rls', '[dbo].[Clientes]', '[seg].[PorFilial]', '([seg].[fn_filial]([Filial]))'],
    ['mask', '[dbo].[Clientes]', 'EMAIL', 'email()'],
    ['mask', '[dbo].[Clientes]', 'Telefone', 'partial(0, "xxx", 2)'],
    ['mask', '[dbo].[Contatos]', 'Cpf', 'default()'],
    ['policies-hidden', null, null, null]
  ], '[dbo].[Clientes]', ['Id', 'Email'])
  t.same(facts, {
    memoryOptimized: true,
    memoryOptimizedReads: [],
    filters: ['[dbo].[Clientes] by security policy [seg].[PorFilial] (FILTER PREDICATE ([seg].[fn_filial]([Filial])))'],
    masks: ['[dbo].[Clientes] column EMAIL (masked with email())'],
    unresolved: [],
    policiesHidden: true
  }, 'a mask on an unmapped column of the table does not count, nor one on another table')
})

t.test('mssql silent filters – refused with exit 2 unless the stream opts in', async (t) => {
  const facts = silentFilterFacts([['rls', '[dbo].[Clientes]', '[seg].[PorFilial]', null], ['mask', '[dbo].[Clientes]', 'Email', 'email()']], '[dbo].[Clientes]', ['Id', 'Email'])
  const err = (() => { try { checkSilentFilters(clientes(), facts, 'sisporta_reader') } catch (e) { return e } })()
  t.ok(err instanceof SourceError)
  t.match(err, { code: 'SIS_SRC_FILTERED', stream: 'customers', exitCode: 2, transient: false })
  t.equal((err as Error).message,
    "stream 'customers': the server filters or masks what login 'sisporta_reader' reads: Row-Level Security filters [dbo].[Clientes] by security policy [seg].[PorFilial]; " +
    'Dynamic Data Masking hides [dbo].[Clientes] column Email (masked with email()). A full load of filtered or masked rows would delete or overwrite good target rows: ' +
    "exempt the login from the policy's predicate, GRANT UNMASK to it, map only unmasked columns, or read objects of the source database only; or set source.allowFiltered: true on the stream to load what the login sees (docs/sql-server.md)")
  const maskOnly = silentFilterFacts([['mask', '[dbo].[Clientes]', 'Email', 'email()']], '[dbo].[Clientes]', ['Id', 'Email'])
  t.throws(() => checkSilentFilters(clientes(), maskOnly, 'r'), { code: 'SIS_SRC_FILTERED', message: /Dynamic Data Masking hides/ }, 'a mask alone is refused')
  t.same(checkSilentFilters(clientes({ allowFiltered: true }), facts, 'r'), [
    "the server filters or masks what login 'r' reads: Row-Level Security filters [dbo].[Clientes] by security policy [seg].[PorFilial]; Dynamic Data Masking hides [dbo].[Clientes] column Email (masked with email()); loading what the login sees because the stream sets source.allowFiltered"
  ], 'opted in: a warning instead')
  t.same(checkSilentFilters(clientes(), silentFilterFacts([['memory-optimized', '[dbo].[Clientes]', null, null], ['policies-hidden', null, null, null]], '[dbo].[Clientes]', ['Id']), 'r'), [], 'nothing filtered: nothing to say')
  t.match(hiddenPoliciesWarning('r'), /login 'r' cannot see Row-Level Security policies .*GRANT VIEW DEFINITION/)
})

const ordersQuery = (source: { allowFiltered?: boolean } = {}) => stream({
  name: 'orders',
  source: { query: 'SELECT p.Id, c.Email, UPPER(c.Nome) AS Nome FROM dbo.Pedidos AS p JOIN dbo.Clientes AS c ON c.Id = p.Cliente', ...source },
  key: ['id'],
  columns: [{ name: 'id', from: 'Id', type: 'int' }, { name: 'email', from: 'Email', type: 'string' }, { name: 'name', from: 'Nome', type: 'string' }]
})

t.test('mssql silent filters – views and queries: masks of the mapped result columns, filters of every table read, memory-optimized tables under them', async (t) => {
  const sources: unknown[][] = [
    ['source', 'Id', '[dbo].[Pedidos]', 'Id'],
    ['source', 'Email', '[dbo].[Clientes]', 'Email'],
    ['source', 'Nome', null, null]
  ]
  const masks: unknown[][] = [['mask', '[dbo].[Clientes]', 'Email', 'email()'], ['mask', '[dbo].[Clientes]', 'Cpf', 'default()']]
  const traced = silentFilterFacts([sources[0]!, sources[1]!, ...masks], '(query)', ['Id', 'Email'], 'query')
  t.same(traced.masks, ['[dbo].[Clientes] column Email (masked with email())'], 'a mapped column traced to a masked column counts; a masked column no mapped column shows does not')
  t.same(silentFilterFacts([sources[0]!, ...masks], '(query)', ['Id'], 'query').masks, [], 'only unmasked sources mapped: nothing masked')
  t.same(silentFilterFacts([...sources, ...masks], '(query)', ['Id', 'NOME'], 'query').masks,
    ['[dbo].[Clientes] column Email (masked with email())', '[dbo].[Clientes] column Cpf (masked with default())'], 'a computed mapped column may show any mask of what the query reads')
  t.same(silentFilterFacts(masks, '[dbo].[vClientes]', ['Id'], 'view').masks.length, 2, 'no source described (browse information refused): every mask counts')
  const view = silentFilterFacts([
    ['memory-optimized', '[dbo].[Sessoes]', null, null],
    ['rls', '[dbo].[Filiais]', '[seg].[PorFilial]', null],
    ['unresolved', '[Outra].[dbo].[Precos]', '[dbo].[vPrecos]', null],
    ['unresolved', '[Outra].[dbo].[Precos]', '[dbo].[vPrecos]', null]
  ], '[dbo].[vPedidos]', ['Id'], 'view')
  t.same(view, {
    memoryOptimized: false,
    memoryOptimizedReads: ['[dbo].[Sessoes]'],
    filters: ['[dbo].[Filiais] by security policy [seg].[PorFilial]'],
    masks: [],
    unresolved: ['[Outra].[dbo].[Precos] (referenced by [dbo].[vPrecos])'],
    policiesHidden: false
  }, 'a memory-optimized table under a view is not the mapped table: no hint, READ COMMITTED')
  t.same(silentFilterFacts([['memory-optimized', '[dbo].[vSessoes]', null, null]], '[dbo].[vSessoes]', ['Id'], 'view').memoryOptimized, false, 'the hint is for a table stream only')
})

t.test('mssql silent filters – a query or view over a filtered, masked or unresolvable table is refused unless it opts in', async (t) => {
  const facts = silentFilterFacts([
    ['source', 'Email', '[dbo].[Clientes]', 'Email'],
    ['rls', '[dbo].[Pedidos]', '[seg].[PorFilial]', null],
    ['mask', '[dbo].[Clientes]', 'Email', 'email()']
  ], '(query)', ['Id', 'Email', 'Nome'], 'query')
  t.throws(() => checkSilentFilters(ordersQuery(), facts, 'r', 'ERP'), {
    code: 'SIS_SRC_FILTERED',
    message: "stream 'orders': the server filters or masks what login 'r' reads: Row-Level Security filters [dbo].[Pedidos] by security policy [seg].[PorFilial]; Dynamic Data Masking hides [dbo].[Clientes] column Email (masked with email()). A full load of filtered or masked rows would delete or overwrite good target rows: exempt the login from the policy's predicate, GRANT UNMASK to it, map only unmasked columns, or read objects of the source database only; or set source.allowFiltered: true on the stream to load what the login sees (docs/sql-server.md)"
  })
  const elsewhere = silentFilterFacts([['unresolved', '[Outra].[dbo].[Precos]', null, null]], '(query)', ['Id'], 'query')
  t.throws(() => checkSilentFilters(ordersQuery(), elsewhere, 'r', 'ERP'), {
    code: 'SIS_SRC_FILTERED',
    message: /it reads \[Outra\]\.\[dbo\]\.\[Precos\] in another database or on another server, whose security policies and masks cannot be checked from database 'ERP'/
  }, 'another database cannot be checked: refused, the safe side')
  t.same(checkSilentFilters(ordersQuery({ allowFiltered: true }), elsewhere, 'r', 'ERP'),
    ["the server filters or masks what login 'r' reads: it reads [Outra].[dbo].[Precos] in another database or on another server, whose security policies and masks cannot be checked from database 'ERP'; loading what the login sees because the stream sets source.allowFiltered"], 'opted in: a warning')
  t.same(checkSilentFilters(ordersQuery(), silentFilterFacts([['memory-optimized', '[dbo].[Sessoes]', null, null]], '(query)', ['Id'], 'query'), 'r'), [], 'a memory-optimized table is no filter')
})
