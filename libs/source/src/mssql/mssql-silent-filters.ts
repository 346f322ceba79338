/**
 * What the server does to a stream's rows behind the login's back, asked at describe for table,
 * view and query streams alike: Row-Level Security filter predicates hide rows, Dynamic Data
 * Masking replaces values, on the mapped table or on any table a view or query reads. Either makes
 * a full load see less (or other) data than the tables hold, and the full load would then delete
 * or overwrite good target rows. The same statement tells which tables read are memory-optimized
 * (the mapped table is read with the `WITH (SNAPSHOT)` hint; one under a view or query makes the
 * stream read at READ COMMITTED: see `prepare` in mssql-dialect.ts).
 */
import type { StreamConfig } from '@sisporta/contracts'
import { SourceError } from '../errors.js'
import type { MssqlParameter } from './mssql-sql.js'

const DESCRIBE = 'sys.dm_exec_describe_first_result_set(COALESCE(@tsql, N\'SELECT 1 AS x\'), NULL, 1)'
/** A typed NULL: an untyped one could make a UNION's column int. */
const NONE = 'CONVERT(nvarchar(max), NULL)'
const NAME_OF = (id: string): string => `QUOTENAME(OBJECT_SCHEMA_NAME(${id})) + N'.' + QUOTENAME(OBJECT_NAME(${id}))`

/**
 * The objects a stream reads, as a CTE `objects (id)`: the mapped table or view (`@object_id`);
 * the base tables of the result columns of `@tsql` as SQL Server describes them with browse
 * information (`sys.dm_exec_describe_first_result_set(@tsql, NULL, 1)`: a view's columns come
 * back as its base tables' columns), those of this database; for a query stream, every table,
 * view, synonym or function of the database whose name appears in the query's text (`@query`),
 * so that a table read only in a join or a WHERE counts too (a name that merely appears, in a
 * string or an alias, counts as well: the check errs on the side of refusing); and from each of
 * them but tables, what its definition references (`sys.sql_expression_dependencies`: views over
 * views and functions, 16 levels at most) and what a synonym stands for.
 */
export const READ_OBJECTS_CTE =
  'WITH seed (id) AS (SELECT @object_id WHERE @object_id IS NOT NULL\n' +
  `UNION SELECT OBJECT_ID(QUOTENAME(r.source_schema) + N'.' + QUOTENAME(r.source_table)) FROM ${DESCRIBE} AS r ` +
  'WHERE @tsql IS NOT NULL AND r.source_table IS NOT NULL AND r.source_server IS NULL AND (r.source_database IS NULL OR r.source_database = DB_NAME())\n' +
  "UNION SELECT o.object_id FROM sys.objects AS o WHERE @query IS NOT NULL AND o.is_ms_shipped = 0 AND o.type IN ('U', 'V', 'SN', 'IF', 'TF', 'FN') AND CHARINDEX(o.name, @query) > 0),\n" +
  'reach (id, depth) AS (SELECT id, 0 FROM seed WHERE id IS NOT NULL\n' +
  "UNION ALL SELECT d.referenced_id, r.depth + 1 FROM reach AS r JOIN sys.sql_expression_dependencies AS d ON d.referencing_id = r.id WHERE d.referenced_class = 1 AND d.referenced_id IS NOT NULL AND OBJECTPROPERTY(r.id, N'IsUserTable') = 0 AND r.depth < 16\n" +
  'UNION ALL SELECT OBJECT_ID(sn.base_object_name), r.depth + 1 FROM reach AS r JOIN sys.synonyms AS sn ON sn.object_id = r.id WHERE OBJECT_ID(sn.base_object_name) IS NOT NULL AND r.depth < 16),\n' +
  'objects (id) AS (SELECT DISTINCT id FROM reach)\n'

/** Rows every server answers (SQL Server 2012 on): memory-optimized tables, unresolved references, result column sources. */
const COMMON_ROWS =
  `SELECT N'memory-optimized', ${NAME_OF('x.id')}, ${NONE}, ${NONE} FROM objects AS x WHERE OBJECTPROPERTY(x.id, N'TableIsMemoryOptimized') = 1\n` +
  `UNION ALL SELECT N'unresolved', CONCAT(QUOTENAME(r.source_server) + N'.', QUOTENAME(r.source_database) + N'.', QUOTENAME(r.source_schema) + N'.', QUOTENAME(r.source_table)), ${NONE}, ${NONE} ` +
  `FROM ${DESCRIBE} AS r WHERE @tsql IS NOT NULL AND r.source_table IS NOT NULL AND (r.source_server IS NOT NULL OR r.source_database <> DB_NAME()) ` +
  "AND ISNULL(r.source_database, N'') <> N'mssqlsystemresource' AND ISNULL(r.source_schema, N'') NOT IN (N'sys', N'INFORMATION_SCHEMA')\n" +
  "UNION ALL SELECT N'unresolved', CONCAT(QUOTENAME(d.referenced_server_name) + N'.', QUOTENAME(d.referenced_database_name) + N'.', QUOTENAME(d.referenced_schema_name) + N'.', QUOTENAME(d.referenced_entity_name)), " +
  `${NAME_OF('d.referencing_id')}, ${NONE} FROM sys.sql_expression_dependencies AS d WHERE d.referencing_id IN (SELECT id FROM objects) AND d.referenced_class = 1 AND d.referenced_id IS NULL ` +
  'AND (d.referenced_database_name IS NOT NULL OR d.referenced_server_name IS NOT NULL)\n' +
  "UNION ALL SELECT N'source', r.name, CASE WHEN OBJECTPROPERTY(OBJECT_ID(QUOTENAME(r.source_schema) + N'.' + QUOTENAME(r.source_table)), N'IsUserTable') = 1 " +
  `THEN QUOTENAME(r.source_schema) + N'.' + QUOTENAME(r.source_table) END, r.source_column FROM ${DESCRIBE} AS r WHERE @tsql IS NOT NULL AND r.is_hidden = 0`

/**
 * Rows `[kind, object, name, detail]` about what one stream reads (see {@link READ_OBJECTS_CTE}):
 *
 * | kind               | row                                                                                 |
 * |--------------------|-------------------------------------------------------------------------------------|
 * | `memory-optimized` | `object` is a memory-optimized table the stream reads (the mapped table itself, or one under a view or query) |
 * | `unresolved`       | `object` is in another database or on another server (`name`: the view that references it, if one does): its policies and masks cannot be seen from here; the system catalogue (`sys`, `INFORMATION_SCHEMA`, the resource database) does not count |
 * | `source`           | a result column of a view or query (`object`) and the table (`name`) and column (`detail`) it comes from; `name` NULL for a computed column, or when the source is not a table of this database the login can see (then every mask read counts) |
 * | `rls`              | an enabled security policy's FILTER predicate on a table the stream reads (`object` the table, `name` the policy) |
 * | `mask`             | a masked column of a table the stream reads that the login may not UNMASK (`name` the column, `detail` the masking function) |
 * | `policies-hidden`  | the login can see no security policy: neither VIEW DEFINITION nor ALTER ANY SECURITY POLICY on the database |
 *
 * Row-Level Security and masking exist from SQL Server 2016 (and in Azure SQL): on an older
 * server, whose catalogue has no `sys.security_policies`, only the first three kinds are asked
 * (`TableIsMemoryOptimized` is NULL before 2014). The 2016 statement runs through
 * `sp_executesql` so that an older server never compiles it. UNMASK is checked on the column
 * (SQL Server 2022) and on the database (before 2022, where it is database-wide only).
 */
export const SILENT_FILTERS_INNER_SQL =
  READ_OBJECTS_CTE + COMMON_ROWS + '\n' +
  "UNION ALL SELECT N'rls', QUOTENAME(OBJECT_SCHEMA_NAME(pr.target_object_id)) + N'.' + QUOTENAME(OBJECT_NAME(pr.target_object_id)), " +
  "QUOTENAME(SCHEMA_NAME(sp.schema_id)) + N'.' + QUOTENAME(sp.name), pr.predicate_definition " +
  'FROM sys.security_policies AS sp JOIN sys.security_predicates AS pr ON pr.object_id = sp.object_id ' +
  'WHERE sp.is_enabled = 1 AND pr.predicate_type = 0 AND pr.target_object_id IN (SELECT id FROM objects)\n' +
  "UNION ALL SELECT N'mask', QUOTENAME(OBJECT_SCHEMA_NAME(mc.object_id)) + N'.' + QUOTENAME(OBJECT_NAME(mc.object_id)), mc.name, mc.masking_function " +
  'FROM sys.masked_columns AS mc WHERE mc.is_masked = 1 AND mc.object_id IN (SELECT id FROM objects) ' +
  "AND ISNULL(HAS_PERMS_BY_NAME(QUOTENAME(OBJECT_SCHEMA_NAME(mc.object_id)) + N'.' + QUOTENAME(OBJECT_NAME(mc.object_id)), N'OBJECT', N'UNMASK', mc.name, N'COLUMN'), 0) = 0 " +
  "AND ISNULL(HAS_PERMS_BY_NAME(NULL, N'DATABASE', N'UNMASK'), 0) = 0\n" +
  `UNION ALL SELECT N'policies-hidden', ${NONE}, ${NONE}, ${NONE} WHERE ISNULL(HAS_PERMS_BY_NAME(NULL, N'DATABASE', N'VIEW DEFINITION'), 0) = 0 ` +
  "AND ISNULL(HAS_PERMS_BY_NAME(NULL, N'DATABASE', N'ALTER ANY SECURITY POLICY'), 0) = 0;"

/** The whole statement: the 2016 form when the server has security policies, else the common rows only. */
export const SILENT_FILTERS_SQL =
  "IF OBJECT_ID(N'sys.security_policies') IS NULL BEGIN\n" +
  `${READ_OBJECTS_CTE}${COMMON_ROWS};\n` +
  'END ELSE BEGIN\n' +
  `EXECUTE sys.sp_executesql N'${SILENT_FILTERS_INNER_SQL.replaceAll("'", "''")}', N'@object_id int, @tsql nvarchar(max), @query nvarchar(max)', @object_id = @object_id, @tsql = @tsql, @query = @query;\n` +
  'END;'

/** What {@link SILENT_FILTERS_SQL} is asked about: a table, a view, or a query. */
export type SilentFiltersSubject =
  | { readonly kind: 'table', readonly objectId: number }
  | { readonly kind: 'view', readonly objectId: number, readonly object: string }
  | { readonly kind: 'query', readonly query: string, readonly describeSql: string }

/**
 * The `@object_id`, `@tsql` and `@query` parameters of {@link SILENT_FILTERS_SQL}: a view is
 * described as `SELECT * FROM <view>` (its base tables), a query as its describe statement.
 *
 * @example
 * silentFiltersParameters({ kind: 'table', objectId: 1234 }) // [@object_id 1234, @tsql NULL, @query NULL]
 */
export function silentFiltersParameters (subject: SilentFiltersSubject): MssqlParameter[] {
  const text = (name: string, value: string | null): MssqlParameter => ({ name, type: { kind: 'nvarchar', length: -1 }, value })
  return [
    { name: 'object_id', type: { kind: 'int' }, value: subject.kind === 'query' ? null : subject.objectId },
    text('tsql', subject.kind === 'view' ? `SELECT * FROM ${subject.object}` : subject.kind === 'query' ? subject.describeSql : null),
    text('query', subject.kind === 'query' ? subject.query : null)
  ]
}

/** What {@link SILENT_FILTERS_SQL} found about what one stream reads. */
export interface MssqlObjectFacts {
  /** The mapped table itself is memory-optimized (read with the `WITH (SNAPSHOT)` hint). */
  readonly memoryOptimized: boolean
  /** Memory-optimized tables read under a view or query (`[dbo].[Sessoes]`): no hint can reach them. */
  readonly memoryOptimizedReads: readonly string[]
  /** `[dbo].[Pedidos] by policy [seg].[PorFilial]: <predicate>` */
  readonly filters: readonly string[]
  /** `[dbo].[Clientes] column Email (masked with email())` — those a mapped column may show. */
  readonly masks: readonly string[]
  /** Objects in another database or on another server (`[Outro].[dbo].[T] (referenced by [dbo].[V])`): not checked. */
  readonly unresolved: readonly string[]
  /** The login cannot see security policies: a filter would go unnoticed. */
  readonly policiesHidden: boolean
}

/**
 * The facts in {@link SILENT_FILTERS_SQL}'s rows, for the stream's `object` (`[dbo].[Clientes]`,
 * or `(query)`) of `kind`, whose mapped columns are `mapped` (source column names). A mask counts
 * when a mapped column may show it: for a table, a masked mapped column; for a view or query, a
 * mapped column that SQL Server traces to the masked column, and every mask of what the stream
 * reads when a mapped column is computed or not traced at all (an expression over a masked
 * column is masked too).
 */
export function silentFilterFacts (rows: readonly unknown[][], object: string, mapped: readonly string[], kind: 'table' | 'view' | 'query' = 'table'): MssqlObjectFacts {
  const lower = (v: unknown): string => String(v).toLowerCase()
  const filters: string[] = []
  const maskRows: Array<{ table: string, column: string, text: string }> = []
  const sources = new Map<string, { table: string, column: string } | undefined>()
  const unresolved: string[] = []
  const memoryOptimizedReads: string[] = []
  let memoryOptimized = false
  let policiesHidden = false
  for (const [kindValue, target, name, detail] of rows) {
    switch (kindValue) {
      case 'memory-optimized':
        if (kind === 'table' && String(target) === object) memoryOptimized = true
        else if (!memoryOptimizedReads.includes(String(target))) memoryOptimizedReads.push(String(target))
        break
      case 'policies-hidden': policiesHidden = true; break
      case 'rls': filters.push(`${String(target)} by security policy ${String(name)}${detail === null || detail === undefined ? '' : ` (FILTER PREDICATE ${String(detail)})`}`); break
      case 'mask': maskRows.push({ table: String(target), column: String(name), text: `${String(target)} column ${String(name)} (masked with ${String(detail)})` }); break
      case 'unresolved': {
        const what = `${String(target)}${name === null || name === undefined ? '' : ` (referenced by ${String(name)})`}`
        if (!unresolved.includes(what)) unresolved.push(what)
        break
      }
      case 'source':
        sources.set(lower(target), name === null || name === undefined || detail === null || detail === undefined ? undefined : { table: lower(name), column: lower(detail) })
        break
    }
  }
  const mappedNames = mapped.map(lower)
  const shown = (m: { table: string, column: string }): boolean => {
    if (kind === 'table') return m.table === object && mappedNames.includes(m.column.toLowerCase())
    return mappedNames.some((c) => {
      if (!sources.has(c)) return true
      const source = sources.get(c)
      return source === undefined || (source.table === m.table.toLowerCase() && source.column === m.column.toLowerCase())
    })
  }
  const masks = [...new Set(maskRows.filter(shown).map((m) => m.text))]
  return { memoryOptimized, memoryOptimizedReads, filters, masks, unresolved, policiesHidden }
}

/**
 * Refuses a stream whose rows the server filters or masks — or which reads objects of another
 * database or server, where neither can be checked — unless it opted in with
 * `source.allowFiltered: true`: `SIS_SRC_FILTERED`, exit 2. Returns what to warn about instead
 * (the filters and masks of a stream that opted in), for the caller's log.
 */
export function checkSilentFilters (stream: StreamConfig, facts: MssqlObjectFacts, login: string, database = '(the source database)'): string[] {
  const found = [
    ...facts.filters.map((f) => `Row-Level Security filters ${f}`),
    ...facts.masks.map((m) => `Dynamic Data Masking hides ${m}`),
    ...(facts.unresolved.length === 0 ? [] : [`it reads ${facts.unresolved.join(', ')} in another database or on another server, whose security policies and masks cannot be checked from database '${database}'`])
  ]
  const warnings: string[] = []
  if (found.length > 0) {
    const what = `the server filters or masks what login '${login}' reads: ${found.join('; ')}`
    if (stream.source.allowFiltered !== true) {
      throw new SourceError('SIS_SRC_FILTERED',
        `stream '${stream.name}': ${what}. A full load of filtered or masked rows would delete or overwrite good target rows: exempt the login from the policy's predicate, GRANT UNMASK to it, map only unmasked columns, or read objects of the source database only; or set source.allowFiltered: true on the stream to load what the login sees (docs/sql-server.md)`,
        { stream: stream.name })
    }
    warnings.push(`${what}; loading what the login sees because the stream sets source.allowFiltered`)
  }
  return warnings
}

/** Why Row-Level Security could not be checked (`MssqlObjectFacts.policiesHidden`): logged once per dialect. */
export function hiddenPoliciesWarning (login: string): string {
  return `login '${login}' cannot see Row-Level Security policies (it has neither VIEW DEFINITION nor ALTER ANY SECURITY POLICY on the database), so a policy filtering a mapped table (or a table a view or query reads) would go unnoticed; GRANT VIEW DEFINITION to the login to have it checked (docs/sql-server.md)`
}
