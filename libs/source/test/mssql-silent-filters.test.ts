import t from 'tap'
import { SourceError } from '../src/index.js'
import {
  SILENT_FILTERS_INNER_SQL, SILENT_FILTERS_SQL, checkSilentFilters, hiddenPoliciesWarning, silentFilterFacts, silentFiltersParameters
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

t.test('mssql silent filters – one statement; the 2016 catalogue only where the server has it', async (t) => {
  t.equal(SILENT_FILTERS_SQL,
    'IF OBJECT_ID(N\'sys.security_policies\') IS NULL BEGIN\n' +
    'SELECT N\'memory-optimized\', NULL, NULL, NULL WHERE OBJECTPROPERTY(@object_id, N\'TableIsMemoryOptimized\') = 1;\n' +
    'END ELSE BEGIN\n' +
    'EXECUTE sys.sp_executesql N\'SELECT N\'\'memory-optimized\'\', NULL, NULL, NULL WHERE OBJECTPROPERTY(@object_id, N\'\'TableIsMemoryOptimized\'\') = 1\n' +
    'UNION ALL SELECT N\'\'rls\'\', QUOTENAME(OBJECT_SCHEMA_NAME(pr.target_object_id)) + N\'\'.\'\' + QUOTENAME(OBJECT_NAME(pr.target_object_id)), QUOTENAME(SCHEMA_NAME(sp.schema_id)) + N\'\'.\'\' + QUOTENAME(sp.name), pr.predicate_definition FROM sys.security_policies AS sp JOIN sys.security_predicates AS pr ON pr.object_id = sp.object_id WHERE sp.is_enabled = 1 AND pr.predicate_type = 0 AND (pr.target_object_id = @object_id OR pr.target_object_id IN (SELECT d.referenced_id FROM sys.sql_expression_dependencies AS d WHERE d.referencing_id = @object_id))\n' +
    'UNION ALL SELECT N\'\'mask\'\', QUOTENAME(OBJECT_SCHEMA_NAME(mc.object_id)) + N\'\'.\'\' + QUOTENAME(OBJECT_NAME(mc.object_id)), mc.name, mc.masking_function FROM sys.masked_columns AS mc WHERE mc.is_masked = 1 AND (mc.object_id = @object_id OR mc.object_id IN (SELECT d.referenced_id FROM sys.sql_expression_dependencies AS d WHERE d.referencing_id = @object_id)) AND ISNULL(HAS_PERMS_BY_NAME(QUOTENAME(OBJECT_SCHEMA_NAME(mc.object_id)) + N\'\'.\'\' + QUOTENAME(OBJECT_NAME(mc.object_id)), N\'\'OBJECT\'\', N\'\'UNMASK\'\', mc.name, N\'\'COLUMN\'\'), 0) = 0 AND ISNULL(HAS_PERMS_BY_NAME(NULL, N\'\'DATABASE\'\', N\'\'UNMASK\'\'), 0) = 0\n' +
    'UNION ALL SELECT N\'\'policies-hidden\'\', NULL, NULL, NULL WHERE ISNULL(HAS_PERMS_BY_NAME(NULL, N\'\'DATABASE\'\', N\'\'VIEW DEFINITION\'\'), 0) = 0 AND ISNULL(HAS_PERMS_BY_NAME(NULL, N\'\'DATABASE\'\', N\'\'ALTER ANY SECURITY POLICY\'\'), 0) = 0;\', N\'@object_id int\', @object_id = @object_id;\n' +
    'END;')
  t.ok(SILENT_FILTERS_SQL.includes(`N'${SILENT_FILTERS_INNER_SQL.replaceAll("'", "''")}'`), 'the inner statement travels as one N literal, quotes doubled')
  t.same(silentFiltersParameters(1234), [{ name: 'object_id', type: { kind: 'int' }, value: 1234 }])
})

t.test('mssql silent filters – rows to facts: policies, masks of mapped columns, memory-optimized, hidden policies', async (t) => {
  const none = silentFilterFacts([], '[dbo].[Clientes]', ['Id', 'Email'])
  t.same(none, { memoryOptimized: false, filters: [], masks: [], policiesHidden: false })
  const facts = silentFilterFacts([
    ['memory-optimized', null, null, null],
    ['rls', '[dbo].[Clientes]', '[seg].[PorFilial]', '([seg].[fn_filial]([Filial]))'],
    ['mask', '[dbo].[Clientes]', 'EMAIL', 'email()'],
    ['mask', '[dbo].[Clientes]', 'Telefone', 'partial(0, "xxx", 2)'],
    ['mask', '[dbo].[Contatos]', 'Cpf', 'default()'],
    ['policies-hidden', null, null, null]
  ], '[dbo].[Clientes]', ['Id', 'Email'])
  t.same(facts, {
    memoryOptimized: true,
    filters: ['[dbo].[Clientes] by security policy [seg].[PorFilial] (FILTER PREDICATE ([seg].[fn_filial]([Filial])))'],
    masks: ['[dbo].[Clientes] column EMAIL (masked with email())', '[dbo].[Contatos] column Cpf (masked with default())'],
    policiesHidden: true
  }, 'a mask on an unmapped column of the table does not count; one on a table a view reads does')
})

t.test('mssql silent filters – refused with exit 2 unless the stream opts in', async (t) => {
  const facts = silentFilterFacts([['rls', '[dbo].[Clientes]', '[seg].[PorFilial]', null], ['mask', '[dbo].[Clientes]', 'Email', 'email()']], '[dbo].[Clientes]', ['Id', 'Email'])
  const err = (() => { try { checkSilentFilters(clientes(), facts, 'sisporta_reader') } catch (e) { return e } })()
  t.ok(err instanceof SourceError)
  t.match(err, { code: 'SIS_SRC_FILTERED', stream: 'customers', exitCode: 2, transient: false })
  t.equal((err as Error).message,
    "stream 'customers': the server filters or masks what login 'sisporta_reader' reads: Row-Level Security filters [dbo].[Clientes] by security policy [seg].[PorFilial]; " +
    'Dynamic Data Masking hides [dbo].[Clientes] column Email (masked with email()). A full load of filtered or masked rows would delete or overwrite good target rows: ' +
    "exempt the login from the policy's predicate, GRANT UNMASK to it, or map only unmasked columns; or set source.allowFiltered: true on the stream to load what the login sees (docs/sql-server.md)")
  const maskOnly = silentFilterFacts([['mask', '[dbo].[Clientes]', 'Email', 'email()']], '[dbo].[Clientes]', ['Id', 'Email'])
  t.throws(() => checkSilentFilters(clientes(), maskOnly, 'r'), { code: 'SIS_SRC_FILTERED', message: /Dynamic Data Masking hides/ }, 'a mask alone is refused')
  t.same(checkSilentFilters(clientes({ allowFiltered: true }), facts, 'r'), [
    "the server filters or masks what login 'r' reads: Row-Level Security filters [dbo].[Clientes] by security policy [seg].[PorFilial]; Dynamic Data Masking hides [dbo].[Clientes] column Email (masked with email()); loading what the login sees because the stream sets source.allowFiltered"
  ], 'opted in: a warning instead')
  t.same(checkSilentFilters(clientes(), silentFilterFacts([['memory-optimized', null, null, null], ['policies-hidden', null, null, null]], '[dbo].[Clientes]', ['Id']), 'r'), [], 'nothing filtered: nothing to say')
  t.match(hiddenPoliciesWarning('r'), /login 'r' cannot see Row-Level Security policies .*GRANT VIEW DEFINITION/)
})
