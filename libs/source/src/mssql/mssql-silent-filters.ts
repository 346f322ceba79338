/**
 * What the server does to a table's rows behind the login's back, asked at describe: Row-Level
 * Security filter predicates hide rows, Dynamic Data Masking replaces values. Either makes a full
 * load see less (or other) data than the table holds, and the full load would then delete or
 * overwrite good target rows. The same statement tells whether the table is memory-optimized
 * (read with the `WITH (SNAPSHOT)` hint: see `mssqlTableHint`).
 */
import type { StreamConfig } from '@sisporta/contracts'
import { SourceError } from '../errors.js'
import type { MssqlParameter } from './mssql-sql.js'

/**
 * Rows `[kind, object, name, detail]` about one table or view (`@object_id`):
 *
 * | kind               | row                                                                                 |
 * |--------------------|-------------------------------------------------------------------------------------|
 * | `memory-optimized` | the object is a memory-optimized table                                               |
 * | `rls`              | an enabled security policy's FILTER predicate on the object, or on a table the view reads (`object` the table, `name` the policy) |
 * | `mask`             | a masked column of the object (or of a table the view reads) the login may not UNMASK (`name` the column, `detail` the masking function) |
 * | `policies-hidden`  | the login can see no security policy: neither VIEW DEFINITION nor ALTER ANY SECURITY POLICY on the database |
 *
 * Row-Level Security and masking exist from SQL Server 2016 (and in Azure SQL): on an older
 * server, whose catalogue has no `sys.security_policies`, only the memory-optimized row is asked
 * (`TableIsMemoryOptimized` is NULL before 2014). The 2016 statement runs through
 * `sp_executesql` so that an older server never compiles it. UNMASK is checked on the column
 * (SQL Server 2022) and on the database (before 2022, where it is database-wide only).
 */
export const SILENT_FILTERS_INNER_SQL =
  "SELECT N'memory-optimized', NULL, NULL, NULL WHERE OBJECTPROPERTY(@object_id, N'TableIsMemoryOptimized') = 1\n" +
  "UNION ALL SELECT N'rls', QUOTENAME(OBJECT_SCHEMA_NAME(pr.target_object_id)) + N'.' + QUOTENAME(OBJECT_NAME(pr.target_object_id)), " +
  "QUOTENAME(SCHEMA_NAME(sp.schema_id)) + N'.' + QUOTENAME(sp.name), pr.predicate_definition " +
  'FROM sys.security_policies AS sp JOIN sys.security_predicates AS pr ON pr.object_id = sp.object_id ' +
  'WHERE sp.is_enabled = 1 AND pr.predicate_type = 0 AND (pr.target_object_id = @object_id OR pr.target_object_id IN ' +
  '(SELECT d.referenced_id FROM sys.sql_expression_dependencies AS d WHERE d.referencing_id = @object_id))\n' +
  "UNION ALL SELECT N'mask', QUOTENAME(OBJECT_SCHEMA_NAME(mc.object_id)) + N'.' + QUOTENAME(OBJECT_NAME(mc.object_id)), mc.name, mc.masking_function " +
  'FROM sys.masked_columns AS mc WHERE mc.is_masked = 1 AND (mc.object_id = @object_id OR mc.object_id IN ' +
  '(SELECT d.referenced_id FROM sys.sql_expression_dependencies AS d WHERE d.referencing_id = @object_id)) ' +
  "AND ISNULL(HAS_PERMS_BY_NAME(QUOTENAME(OBJECT_SCHEMA_NAME(mc.object_id)) + N'.' + QUOTENAME(OBJECT_NAME(mc.object_id)), N'OBJECT', N'UNMASK', mc.name, N'COLUMN'), 0) = 0 " +
  "AND ISNULL(HAS_PERMS_BY_NAME(NULL, N'DATABASE', N'UNMASK'), 0) = 0\n" +
  "UNION ALL SELECT N'policies-hidden', NULL, NULL, NULL WHERE ISNULL(HAS_PERMS_BY_NAME(NULL, N'DATABASE', N'VIEW DEFINITION'), 0) = 0 " +
  "AND ISNULL(HAS_PERMS_BY_NAME(NULL, N'DATABASE', N'ALTER ANY SECURITY POLICY'), 0) = 0;"

/** The whole statement: the 2016 form when the server has security policies, else the memory-optimized row only. */
export const SILENT_FILTERS_SQL =
  "IF OBJECT_ID(N'sys.security_policies') IS NULL BEGIN\n" +
  "SELECT N'memory-optimized', NULL, NULL, NULL WHERE OBJECTPROPERTY(@object_id, N'TableIsMemoryOptimized') = 1;\n" +
  'END ELSE BEGIN\n' +
  `EXECUTE sys.sp_executesql N'${SILENT_FILTERS_INNER_SQL.replaceAll("'", "''")}', N'@object_id int', @object_id = @object_id;\n` +
  'END;'

/** The `@object_id` parameter of {@link SILENT_FILTERS_SQL}. */
export function silentFiltersParameters (objectId: number): MssqlParameter[] {
  return [{ name: 'object_id', type: { kind: 'int' }, value: objectId }]
}

/** What {@link SILENT_FILTERS_SQL} found about one mapped object. */
export interface MssqlObjectFacts {
  readonly memoryOptimized: boolean
  /** `[dbo].[Pedidos] by policy [seg].[PorFilial]: <predicate>` */
  readonly filters: readonly string[]
  /** `[dbo].[Clientes].[Email] (masked with email())` — mapped columns only, for a table. */
  readonly masks: readonly string[]
  /** The login cannot see security policies: a filter would go unnoticed. */
  readonly policiesHidden: boolean
}

/**
 * The facts in {@link SILENT_FILTERS_SQL}'s rows. Masks on the mapped table count for mapped
 * columns only (`mapped`, source column names); masks on tables a view reads all count, since
 * which of them the view's columns come from is not known here.
 */
export function silentFilterFacts (rows: readonly unknown[][], object: string, mapped: readonly string[]): MssqlObjectFacts {
  const mappedNames = new Set(mapped.map((c) => c.toLowerCase()))
  const filters: string[] = []
  const masks: string[] = []
  let memoryOptimized = false
  let policiesHidden = false
  for (const [kind, target, name, detail] of rows) {
    switch (kind) {
      case 'memory-optimized': memoryOptimized = true; break
      case 'policies-hidden': policiesHidden = true; break
      case 'rls': filters.push(`${String(target)} by security policy ${String(name)}${detail === null || detail === undefined ? '' : ` (FILTER PREDICATE ${String(detail)})`}`); break
      case 'mask':
        if (String(target) !== object || mappedNames.has(String(name).toLowerCase())) {
          masks.push(`${String(target)} column ${String(name)} (masked with ${String(detail)})`)
        }
        break
    }
  }
  return { memoryOptimized, filters, masks, policiesHidden }
}

/**
 * Refuses a stream whose rows the server filters or masks, unless it opted in with
 * `source.allowFiltered: true`: `SIS_SRC_FILTERED`, exit 2. Returns what to warn about instead
 * (the filters and masks of a stream that opted in), for the caller's log.
 */
export function checkSilentFilters (stream: StreamConfig, facts: MssqlObjectFacts, login: string): string[] {
  const found = [
    ...facts.filters.map((f) => `Row-Level Security filters ${f}`),
    ...facts.masks.map((m) => `Dynamic Data Masking hides ${m}`)
  ]
  const warnings: string[] = []
  if (found.length > 0) {
    const what = `the server filters or masks what login '${login}' reads: ${found.join('; ')}`
    if (stream.source.allowFiltered !== true) {
      throw new SourceError('SIS_SRC_FILTERED',
        `stream '${stream.name}': ${what}. A full load of filtered or masked rows would delete or overwrite good target rows: exempt the login from the policy's predicate, GRANT UNMASK to it, or map only unmasked columns; or set source.allowFiltered: true on the stream to load what the login sees (docs/sql-server.md)`,
        { stream: stream.name })
    }
    warnings.push(`${what}; loading what the login sees because the stream sets source.allowFiltered`)
  }
  return warnings
}

/** Why Row-Level Security could not be checked (`MssqlObjectFacts.policiesHidden`): logged once per dialect. */
export function hiddenPoliciesWarning (login: string): string {
  return `login '${login}' cannot see Row-Level Security policies (it has neither VIEW DEFINITION nor ALTER ANY SECURITY POLICY on the database), so a policy filtering a mapped table would go unnoticed; GRANT VIEW DEFINITION to the login to have it checked (docs/sql-server.md)`
}
