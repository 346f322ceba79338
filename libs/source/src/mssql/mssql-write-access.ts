/**
 * Whether the SQL Server login could write, asked in one statement: the login as a whole, not
 * one object, so that table, view and query streams get the same check. Each result row is one
 * capability the login has beyond reading, and the message says how to remove each one.
 */
import type { MssqlRunner } from './mssql-introspector.js'
import { quoteIdentifier } from './mssql-sql.js'

/**
 * Database-level permissions that only read (or only show metadata): SELECT, CONNECT, SHOWPLAN,
 * UNMASK, REFERENCES and every `VIEW …` permission (VIEW DEFINITION, VIEW DATABASE STATE,
 * VIEW CHANGE TRACKING, …). Any other permission `fn_my_permissions` reports is a capability.
 */
const READ_ONLY_PERMISSIONS = "p.permission_name IN (N'CONNECT', N'SELECT', N'SHOWPLAN', N'UNMASK', N'REFERENCES') OR p.permission_name LIKE N'VIEW %'"

/** Fixed server roles whose members can change any database or grant themselves anything. */
export const WRITE_SERVER_ROLES = Object.freeze(['sysadmin', 'securityadmin'] as const)
/** Fixed database roles whose members can write, change the schema or grant permissions. */
export const WRITE_DATABASE_ROLES = Object.freeze(['db_owner', 'db_datawriter', 'db_ddladmin', 'db_securityadmin', 'db_accessadmin'] as const)
/** Server permissions that reach into the database (IMPERSONATE ANY LOGIN runs as a writer). */
export const WRITE_SERVER_PERMISSIONS = Object.freeze(['CONTROL SERVER', 'ALTER ANY LOGIN', 'IMPERSONATE ANY LOGIN', 'ALTER ANY SERVER ROLE', 'ALTER ANY DATABASE'] as const)
/** Schema permissions that write or change what is in the schema. */
export const WRITE_SCHEMA_PERMISSIONS = Object.freeze(['INSERT', 'UPDATE', 'DELETE', 'ALTER', 'CONTROL', 'TAKE OWNERSHIP', 'EXECUTE'] as const)
/** Object permissions that write (EXECUTE counts on procedures only: ERP procedures write by ownership chaining). */
export const WRITE_OBJECT_PERMISSIONS = Object.freeze(['INSERT', 'UPDATE', 'DELETE', 'ALTER', 'CONTROL', 'TAKE OWNERSHIP', 'EXECUTE'] as const)

const list = (values: readonly string[]): string => values.map((v) => `(N'${v}')`).join(', ')
/**
 * `HAS_PERMS_BY_NAME` on a database-level securable by name: bracket-quoted first, the plain name
 * when the quoted one is not understood (NULL), so neither spelling can hide a permission.
 */
const hasPerms = (name: string, securableClass: string, permission: string): string =>
  `COALESCE(HAS_PERMS_BY_NAME(QUOTENAME(${name}), ${securableClass}, ${permission}), HAS_PERMS_BY_NAME(${name}, ${securableClass}, ${permission}))`
/**
 * A server-level question, answered 0 on Azure SQL Database (engine edition 5), whose
 * `HAS_PERMS_BY_NAME` knows only database-level classes; `CASE` keeps it from being asked there.
 */
const notAzureSqlDatabase = (expression: string): string => `CASE WHEN CONVERT(int, SERVERPROPERTY('EngineEdition')) = 5 THEN 0 ELSE ${expression} END`
/** A typed NULL: an untyped one would make the UNION's column int. */
const NONE = 'CONVERT(nvarchar(128), NULL)'
const notOnDatabase = (permission: string): string => `ISNULL(HAS_PERMS_BY_NAME(NULL, N'DATABASE', ${permission}), 0) = 0`
/** The principals the login acts as in the database: its user, its roles (nested ones too), Windows groups, and `public`. */
const TOKEN = '(SELECT ut.principal_id FROM sys.user_token AS ut UNION ALL SELECT 0)'
/**
 * Whether object `o` could hold a write permission the database and its schema do not give: it
 * is owned apart from its schema by a principal of the login's token, or one of them holds an
 * explicit GRANT of a write permission on it (`sys.database_permissions`, class 1). Only for
 * these is `HAS_PERMS_BY_NAME` asked (inside `CASE`, which evaluates it only when this holds),
 * so the check costs one lookup per object, not one permission check per object and permission.
 */
const OWN_OR_GRANTED =
  `(o.principal_id IN ${TOKEN} OR EXISTS (SELECT 1 FROM sys.database_permissions AS dp WHERE dp.class = 1 AND dp.major_id = o.object_id ` +
  `AND dp.state IN ('G', 'W') AND dp.permission_name IN (${WRITE_OBJECT_PERMISSIONS.map((v) => `N'${v}'`).join(', ')}) AND dp.grantee_principal_id IN ${TOKEN}))`

/**
 * The login's write capabilities, one row each: `[kind, schema, name, permission]`.
 *
 * | kind          | row                                                                          |
 * |---------------|------------------------------------------------------------------------------|
 * | `server-role` | member of a fixed server role (`IS_SRVROLEMEMBER`)                            |
 * | `role`        | member of a fixed database role (`IS_ROLEMEMBER`)                             |
 * | `server`      | a server permission (`HAS_PERMS_BY_NAME(NULL, NULL, …)`)                      |
 * | `database`    | a database permission other than the read-only ones (`fn_my_permissions`)     |
 * | `schema`      | a write permission on a schema, not already held on the whole database        |
 * | `object`      | INSERT/UPDATE/DELETE/ALTER/CONTROL/TAKE OWNERSHIP on a table, view, procedure or function, EXECUTE on a procedure, not already held on its schema; asked only of objects owned by, or with an explicit write GRANT to, a principal of the login's token (`sys.user_token`, and `public`): any other way to the permission comes from the database or the schema, whose rows already say so |
 * | `object`      | UPDATE granted on a column (`UPDATE ([Preco])`: column grants, from `sys.database_permissions`, checked with `HAS_PERMS_BY_NAME(…, 'COLUMN')`), not held on the whole object |
 * | `principal`   | IMPERSONATE or CONTROL on a database user, ALTER or CONTROL on a role (adds members); `schema` is `USER` or `ROLE` |
 * | `login`       | IMPERSONATE on another login                                                  |
 *
 * Permissions count however they were obtained (granted to the user, to a role it is in, to
 * `public`, or by owning the securable): `fn_my_permissions` and `HAS_PERMS_BY_NAME` answer with
 * the effective permission (NULL, for a class the server does not have, counts as no). Objects,
 * schemas and principals come from the catalogue views, which show the login every securable it
 * has any permission on. Names are compared and returned in the database's collation (logins
 * come from master, whose collation may differ). No row: the login only reads.
 */
export const WRITE_ACCESS_SQL =
  `SELECT N'server-role', ${NONE}, r.name, ${NONE} FROM (VALUES ${list(WRITE_SERVER_ROLES)}) AS r(name) WHERE IS_SRVROLEMEMBER(r.name) = 1\n` +
  `UNION ALL SELECT N'role', ${NONE}, r.name, ${NONE} FROM (VALUES ${list(WRITE_DATABASE_ROLES)}) AS r(name) WHERE IS_ROLEMEMBER(r.name) = 1\n` +
  `UNION ALL SELECT N'server', ${NONE}, ${NONE}, p.name FROM (VALUES ${list(WRITE_SERVER_PERMISSIONS)}) AS p(name) WHERE ${notAzureSqlDatabase('HAS_PERMS_BY_NAME(NULL, NULL, p.name)')} = 1\n` +
  `UNION ALL SELECT N'database', ${NONE}, ${NONE}, p.permission_name COLLATE DATABASE_DEFAULT FROM sys.fn_my_permissions(NULL, N'DATABASE') AS p WHERE NOT (${READ_ONLY_PERMISSIONS})\n` +
  `UNION ALL SELECT N'schema', s.name COLLATE DATABASE_DEFAULT, ${NONE}, p.name FROM sys.schemas AS s CROSS JOIN (VALUES ${list(WRITE_SCHEMA_PERMISSIONS)}) AS p(name) ` +
  `WHERE ${hasPerms('s.name', "N'SCHEMA'", 'p.name')} = 1 AND ${notOnDatabase('p.name')}\n` +
  `UNION ALL SELECT N'object', SCHEMA_NAME(o.schema_id) COLLATE DATABASE_DEFAULT, o.name COLLATE DATABASE_DEFAULT, p.name FROM sys.objects AS o CROSS JOIN (VALUES ${list(WRITE_OBJECT_PERMISSIONS)}) AS p(name) ` +
  "WHERE o.is_ms_shipped = 0 AND o.type IN ('U', 'V', 'P', 'PC', 'X', 'FN', 'IF', 'TF', 'FS', 'FT') AND (p.name <> N'EXECUTE' OR o.type IN ('P', 'PC', 'X')) " +
  `AND CASE WHEN ${OWN_OR_GRANTED} THEN HAS_PERMS_BY_NAME(QUOTENAME(SCHEMA_NAME(o.schema_id)) + N'.' + QUOTENAME(o.name), N'OBJECT', p.name) ELSE 0 END = 1 ` +
  `AND ISNULL(${hasPerms('SCHEMA_NAME(o.schema_id)', "N'SCHEMA'", 'p.name')}, 0) = 0\n` +
  `UNION ALL SELECT N'object', SCHEMA_NAME(o.schema_id) COLLATE DATABASE_DEFAULT, o.name COLLATE DATABASE_DEFAULT, N'UPDATE (' + QUOTENAME(c.name) COLLATE DATABASE_DEFAULT + N')' ` +
  'FROM sys.database_permissions AS dp JOIN sys.objects AS o ON o.object_id = dp.major_id JOIN sys.columns AS c ON c.object_id = dp.major_id AND c.column_id = dp.minor_id ' +
  "WHERE dp.class = 1 AND dp.minor_id <> 0 AND dp.permission_name = N'UPDATE' AND dp.state IN ('G', 'W') " +
  "AND HAS_PERMS_BY_NAME(QUOTENAME(SCHEMA_NAME(o.schema_id)) + N'.' + QUOTENAME(o.name), N'OBJECT', N'UPDATE', c.name, N'COLUMN') = 1 " +
  "AND ISNULL(HAS_PERMS_BY_NAME(QUOTENAME(SCHEMA_NAME(o.schema_id)) + N'.' + QUOTENAME(o.name), N'OBJECT', N'UPDATE'), 0) = 0\n" +
  `UNION ALL SELECT N'principal', p.class, d.name COLLATE DATABASE_DEFAULT, p.name FROM sys.database_principals AS d ` +
  "JOIN (VALUES (N'IMPERSONATE', N'USER'), (N'CONTROL', N'USER'), (N'ALTER', N'ROLE'), (N'CONTROL', N'ROLE')) AS p(name, class) ON p.class = CASE WHEN d.type = 'R' THEN N'ROLE' ELSE N'USER' END " +
  "WHERE d.principal_id <> DATABASE_PRINCIPAL_ID() AND d.type IN ('S', 'U', 'G', 'E', 'X', 'C', 'K', 'R') " +
  `AND ${hasPerms('d.name', 'p.class', 'p.name')} = 1 AND ${notOnDatabase('p.name')}\n` +
  `UNION ALL SELECT N'login', ${NONE}, l.name COLLATE DATABASE_DEFAULT, N'IMPERSONATE' FROM sys.server_principals AS l WHERE l.name <> SUSER_SNAME() AND l.type IN ('S', 'U', 'G', 'E', 'X', 'C', 'K') ` +
  `AND ${notAzureSqlDatabase(hasPerms('l.name', "N'LOGIN'", "N'IMPERSONATE'"))} = 1 AND ISNULL(HAS_PERMS_BY_NAME(NULL, NULL, N'IMPERSONATE ANY LOGIN'), 0) = 0;`

/** One capability of the login beyond reading: what it is and how to take it away. */
export interface WriteCapability {
  /** `member of db_datawriter`, `INSERT, UPDATE on [dbo].[Pedidos]`, … */
  readonly can: string
  /** The statement (or action) that removes it. */
  readonly remove: string
}

/** Who the check was about, for the remedies. */
export interface LoginNames {
  readonly login: string
  readonly user: string
}

type Kind = 'server-role' | 'role' | 'server' | 'database' | 'schema' | 'object' | 'principal' | 'login'
const KINDS: readonly Kind[] = ['server-role', 'role', 'server', 'database', 'schema', 'object', 'principal', 'login']

/**
 * The capabilities in `WRITE_ACCESS_SQL`'s rows, one per securable (its permissions joined), in
 * the order: server roles, database roles, server, database, schemas, objects, principals, logins.
 *
 * @example
 * writeCapabilities([['role', null, 'db_datawriter', null]], { login: 'erp', user: 'erp' })
 * // [{ can: 'member of db_datawriter', remove: 'ALTER ROLE [db_datawriter] DROP MEMBER [erp];' }]
 */
export function writeCapabilities (rows: readonly unknown[][], who: LoginNames): WriteCapability[] {
  const grouped = new Map<string, { kind: Kind, schema: string | undefined, name: string | undefined, permissions: string[] }>()
  for (const [kindValue, schemaValue, nameValue, permissionValue] of rows) {
    const kind = String(kindValue) as Kind
    if (!KINDS.includes(kind)) continue
    const schema = text(schemaValue)
    const name = text(nameValue)
    const permission = text(permissionValue)
    // roles are one capability each; permissions of one securable are listed together
    const id = kind === 'server-role' || kind === 'role' ? `${kind}\u0000${name ?? ''}` : `${kind}\u0000${schema ?? ''}\u0000${name ?? ''}`
    let entry = grouped.get(id)
    if (entry === undefined) grouped.set(id, entry = { kind, schema, name, permissions: [] })
    if (permission !== undefined && !entry.permissions.includes(permission)) entry.permissions.push(permission)
  }
  const user = quoteIdentifier(who.user)
  const login = quoteIdentifier(who.login)
  if (who.user.toLowerCase() === 'dbo') {
    // The database's owner (or a sysadmin) enters as the special user dbo: no REVOKE or DROP
    // MEMBER applies to dbo, so the only remedy is another login.
    const remove = `a separate login with only db_datareader (docs/sql-server.md §1): login ${login} enters the database as dbo, its owner or a sysadmin, whose rights cannot be revoked`
    return [...grouped.values()]
      .sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind))
      .slice(0, 1)
      .map(() => ({ can: 'anything, as the database user dbo', remove }))
  }
  return [...grouped.values()]
    .sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind))
    .map(({ kind, schema, name, permissions }) => {
      const perms = permissions.length > LISTED_PERMISSIONS
        ? `${permissions.slice(0, LISTED_PERMISSIONS).join(', ')} and ${permissions.length - LISTED_PERMISSIONS} more`
        : permissions.join(', ')
      switch (kind) {
        case 'server-role': return { can: `member of server role ${name!}`, remove: `ALTER SERVER ROLE ${quoteIdentifier(name!)} DROP MEMBER ${login};` }
        case 'role': return { can: `member of ${name!}`, remove: `ALTER ROLE ${quoteIdentifier(name!)} DROP MEMBER ${user};` }
        case 'server': return { can: `${perms} (server)`, remove: `REVOKE ${perms} FROM ${login};` }
        case 'database': return { can: `${perms} on the database`, remove: `REVOKE ${perms} FROM ${user};` }
        case 'schema': return { can: `${perms} on schema ${quoteIdentifier(schema!)}`, remove: `REVOKE ${perms} ON SCHEMA::${quoteIdentifier(schema!)} FROM ${user};` }
        case 'object': {
          const object = `${quoteIdentifier(schema!)}.${quoteIdentifier(name!)}`
          return { can: `${perms} on ${object}`, remove: `REVOKE ${perms} ON ${object} FROM ${user};` }
        }
        case 'principal': {
          const on = `${schema === 'ROLE' ? 'ROLE' : 'USER'}::${quoteIdentifier(name!)}`
          return { can: `${perms} on ${on}`, remove: `REVOKE ${perms} ON ${on} FROM ${user};` }
        }
        case 'login': return { can: `IMPERSONATE login ${quoteIdentifier(name!)}`, remove: `REVOKE IMPERSONATE ON LOGIN::${quoteIdentifier(name!)} FROM ${login};` }
      }
      throw new Error(`unreachable: ${String(kind)}`)
    })
}

/** The most permissions one capability lists (db_owner's database has dozens); the rest are counted. */
export const LISTED_PERMISSIONS = 8
/** The most capabilities a message lists; the rest are counted. */
export const LISTED_CAPABILITIES = 12

/**
 * The capabilities as one sentence for `SIS_SRC_WRITABLE_LOGIN`: each with its remedy, the first
 * {@link LISTED_CAPABILITIES} of them, then how many more there are.
 */
export function describeWriteCapabilities (capabilities: readonly WriteCapability[]): string {
  const listed = capabilities.slice(0, LISTED_CAPABILITIES).map((c) => `${c.can} (remove: ${c.remove})`)
  const more = capabilities.length - listed.length
  return listed.join('; ') + (more > 0 ? `; and ${more} more (run the check in docs/sql-server.md §1 to list them all)` : '')
}

/** What the login can do beyond reading (`[]`: nothing): `WRITE_ACCESS_SQL` and its rows. */
export async function findWriteCapabilities (run: MssqlRunner, who: LoginNames): Promise<WriteCapability[]> {
  const { rows } = await run(WRITE_ACCESS_SQL)
  return writeCapabilities(rows, who)
}

function text (value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : String(value)
}
