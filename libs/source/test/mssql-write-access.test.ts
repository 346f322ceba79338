import t from 'tap'
import {
  LISTED_CAPABILITIES, WRITE_ACCESS_SQL, describeWriteCapabilities, findWriteCapabilities, writeCapabilities
} from '../src/mssql/mssql-write-access.js'

// The login's write check (issue 12, defect 6): one statement, asserted to the character, and
// the decision taken on the rows it returns. The same against a real server:
// mssql-live-permissions.test.ts.

const who = { login: 'erp_app', user: 'erp app' }

t.test('mssql write access – one statement over roles, server, database, schemas, the objects the login owns or was granted on, principals and logins', async (t) => {
  t.equal(WRITE_ACCESS_SQL,
    'SELECT N\'server-role\', CONVERT(nvarchar(128), NULL), r.name, CONVERT(nvarchar(128), NULL) FROM (VALUES (N\'sysadmin\'), (N\'securityadmin\')) AS r(name) WHERE IS_SRVROLEMEMBER(r.name) = 1\n' +
    'UNION ALL SELECT N\'role\', CONVERT(nvarchar(128), NULL), r.name, CONVERT(nvarchar(128), NULL) FROM (VALUES (N\'db_owner\'), (N\'db_datawriter\'), (N\'db_ddladmin\'), (N\'db_securityadmin\'), (N\'db_accessadmin\')) AS r(name) WHERE IS_ROLEMEMBER(r.name) = 1\n' +
    'UNION ALL SELECT N\'server\', CONVERT(nvarchar(128), NULL), CONVERT(nvarchar(128), NULL), p.name FROM (VALUES (N\'CONTROL SERVER\'), (N\'ALTER ANY LOGIN\'), (N\'IMPERSONATE ANY LOGIN\'), (N\'ALTER ANY SERVER ROLE\'), (N\'ALTER ANY DATABASE\')) AS p(name) WHERE CASE WHEN CONVERT(int, SERVERPROPERTY(\'EngineEdition\')) = 5 THEN 0 ELSE HAS_PERMS_BY_NAME(NULL, NULL, p.name) END = 1\n' +
    'UNION ALL SELECT N\'database\', CONVERT(nvarchar(128), NULL), CONVERT(nvarchar(128), NULL), p.permission_name COLLATE DATABASE_DEFAULT FROM sys.fn_my_permissions(NULL, N\'DATABASE\') AS p WHERE NOT (p.permission_name IN (N\'CONNECT\', N\'SELECT\', N\'SHOWPLAN\', N\'UNMASK\', N\'REFERENCES\') OR p.permission_name LIKE N\'VIEW %\')\n' +
    'UNION ALL SELECT N\'schema\', s.name COLLATE DATABASE_DEFAULT, CONVERT(nvarchar(128), NULL), p.name FROM sys.schemas AS s CROSS JOIN (VALUES (N\'INSERT\'), (N\'UPDATE\'), (N\'DELETE\'), (N\'ALTER\'), (N\'CONTROL\'), (N\'TAKE OWNERSHIP\'), (N\'EXECUTE\')) AS p(name) WHERE COALESCE(HAS_PERMS_BY_NAME(QUOTENAME(s.name), N\'SCHEMA\', p.name), HAS_PERMS_BY_NAME(s.name, N\'SCHEMA\', p.name)) = 1 AND ISNULL(HAS_PERMS_BY_NAME(NULL, N\'DATABASE\', p.name), 0) = 0\n' +
    'UNION ALL SELECT N\'object\', SCHEMA_NAME(o.schema_id) COLLATE DATABASE_DEFAULT, o.name COLLATE DATABASE_DEFAULT, p.name FROM sys.objects AS o CROSS JOIN (VALUES (N\'INSERT\'), (N\'UPDATE\'), (N\'DELETE\'), (N\'ALTER\'), (N\'CONTROL\'), (N\'TAKE OWNERSHIP\'), (N\'EXECUTE\')) AS p(name) WHERE o.is_ms_shipped = 0 AND o.type IN (\'U\', \'V\', \'P\', \'PC\', \'X\', \'FN\', \'IF\', \'TF\', \'FS\', \'FT\') AND (p.name <> N\'EXECUTE\' OR o.type IN (\'P\', \'PC\', \'X\')) AND CASE WHEN (o.principal_id IN (SELECT ut.principal_id FROM sys.user_token AS ut UNION ALL SELECT 0) OR EXISTS (SELECT 1 FROM sys.database_permissions AS dp WHERE dp.class = 1 AND dp.major_id = o.object_id AND dp.state IN (\'G\', \'W\') AND dp.permission_name IN (N\'INSERT\', N\'UPDATE\', N\'DELETE\', N\'ALTER\', N\'CONTROL\', N\'TAKE OWNERSHIP\', N\'EXECUTE\') AND dp.grantee_principal_id IN (SELECT ut.principal_id FROM sys.user_token AS ut UNION ALL SELECT 0))) THEN HAS_PERMS_BY_NAME(QUOTENAME(SCHEMA_NAME(o.schema_id)) + N\'.\' + QUOTENAME(o.name), N\'OBJECT\', p.name) ELSE 0 END = 1 AND ISNULL(COALESCE(HAS_PERMS_BY_NAME(QUOTENAME(SCHEMA_NAME(o.schema_id)), N\'SCHEMA\', p.name), HAS_PERMS_BY_NAME(SCHEMA_NAME(o.schema_id), N\'SCHEMA\', p.name)), 0) = 0\n' +
    'UNION ALL SELECT N\'object\', SCHEMA_NAME(o.schema_id) COLLATE DATABASE_DEFAULT, o.name COLLATE DATABASE_DEFAULT, N\'UPDATE (\' + QUOTENAME(c.name) COLLATE DATABASE_DEFAULT + N\')\' FROM sys.database_permissions AS dp JOIN sys.objects AS o ON o.object_id = dp.major_id JOIN sys.columns AS c ON c.object_id = dp.major_id AND c.column_id = dp.minor_id WHERE dp.class = 1 AND dp.minor_id <> 0 AND dp.permission_name = N\'UPDATE\' AND dp.state IN (\'G\', \'W\') AND HAS_PERMS_BY_NAME(QUOTENAME(SCHEMA_NAME(o.schema_id)) + N\'.\' + QUOTENAME(o.name), N\'OBJECT\', N\'UPDATE\', c.name, N\'COLUMN\') = 1 AND ISNULL(HAS_PERMS_BY_NAME(QUOTENAME(SCHEMA_NAME(o.schema_id)) + N\'.\' + QUOTENAME(o.name), N\'OBJECT\', N\'UPDATE\'), 0) = 0\n' +
    'UNION ALL SELECT N\'principal\', p.class, d.name COLLATE DATABASE_DEFAULT, p.name FROM sys.database_principals AS d JOIN (VALUES (N\'IMPERSONATE\', N\'USER\'), (N\'CONTROL\', N\'USER\'), (N\'ALTER\', N\'ROLE\'), (N\'CONTROL\', N\'ROLE\')) AS p(name, class) ON p.class = CASE WHEN d.type = \'R\' THEN N\'ROLE\' ELSE N\'USER\' END WHERE d.principal_id <> DATABASE_PRINCIPAL_ID() AND d.type IN (\'S\', \'U\', \'G\', \'E\', \'X\', \'C\', \'K\', \'R\') AND COALESCE(HAS_PERMS_BY_NAME(QUOTENAME(d.name), p.class, p.name), HAS_PERMS_BY_NAME(d.name, p.class, p.name)) = 1 AND ISNULL(HAS_PERMS_BY_NAME(NULL, N\'DATABASE\', p.name), 0) = 0\n' +
    'UNION ALL SELECT N\'login\', CONVERT(nvarchar(128), NULL), l.name COLLATE DATABASE_DEFAULT, N\'IMPERSONATE\' FROM sys.server_principals AS l WHERE l.name <> SUSER_SNAME() AND l.type IN (\'S\', \'U\', \'G\', \'E\', \'X\', \'C\', \'K\') AND CASE WHEN CONVERT(int, SERVERPROPERTY(\'EngineEdition\')) = 5 THEN 0 ELSE COALESCE(HAS_PERMS_BY_NAME(QUOTENAME(l.name), N\'LOGIN\', N\'IMPERSONATE\'), HAS_PERMS_BY_NAME(l.name, N\'LOGIN\', N\'IMPERSONATE\')) END = 1 AND ISNULL(HAS_PERMS_BY_NAME(NULL, NULL, N\'IMPERSONATE ANY LOGIN\'), 0) = 0;')
  let sent: unknown[] = []
  const found = await findWriteCapabilities(async (sql, params) => { sent = [sql, params]; return { rows: [], columns: [] } }, who)
  t.same(sent, [WRITE_ACCESS_SQL, undefined], 'no parameter: the login, not an object, so table and query streams get the same check')
  t.same(found, [], 'no row: the login only reads')
  // the cost guard: HAS_PERMS_BY_NAME per object and permission only for objects the token owns or holds an explicit write GRANT on
  const objectRow = WRITE_ACCESS_SQL.split('\n')[5]!
  t.equal(objectRow.split('HAS_PERMS_BY_NAME(QUOTENAME(SCHEMA_NAME(o.schema_id)) + N\'.\' + QUOTENAME(o.name), N\'OBJECT\', p.name)').length, 2, 'one object permission check')
  t.match(objectRow, /AND CASE WHEN \(o\.principal_id IN \(SELECT ut\.principal_id FROM sys\.user_token AS ut UNION ALL SELECT 0\) OR EXISTS \(SELECT 1 FROM sys\.database_permissions AS dp WHERE dp\.class = 1 AND dp\.major_id = o\.object_id .*\)\) THEN HAS_PERMS_BY_NAME\(QUOTENAME\(SCHEMA_NAME\(o\.schema_id\)\) \+ N'\.' \+ QUOTENAME\(o\.name\), N'OBJECT', p\.name\) ELSE 0 END = 1/,
    'asked inside CASE, only of owned or explicitly granted objects')
})

t.test('mssql write access – every kind of row is a capability with its remedy', async (t) => {
  const rows: unknown[][] = [
    ['object', 'dbo', 'Pedidos', 'INSERT'],
    ['object', 'dbo', 'Pedidos', 'UPDATE'],
    ['database', null, null, 'EXECUTE'],
    ['database', null, null, 'ALTER ANY USER'],
    ['role', null, 'db_datawriter', null],
    ['server-role', null, 'securityadmin', null],
    ['server', null, null, 'IMPERSONATE ANY LOGIN'],
    ['schema', 'erp', null, 'DELETE'],
    ['object', 'erp', 'sp_GravaPedido', 'EXECUTE'],
    ['principal', 'USER', 'erp_owner', 'IMPERSONATE'],
    ['principal', 'ROLE', 'db_datawriter', 'ALTER'],
    ['login', null, 'sa', 'IMPERSONATE'],
    ['object', 'dbo', 'Precos', 'UPDATE ([Preco])']
  ]
  t.same(writeCapabilities(rows, who), [
    { can: 'member of server role securityadmin', remove: 'ALTER SERVER ROLE [securityadmin] DROP MEMBER [erp_app];' },
    { can: 'member of db_datawriter', remove: 'ALTER ROLE [db_datawriter] DROP MEMBER [erp app];' },
    { can: 'IMPERSONATE ANY LOGIN (server)', remove: 'REVOKE IMPERSONATE ANY LOGIN FROM [erp_app];' },
    { can: 'EXECUTE, ALTER ANY USER on the database', remove: 'REVOKE EXECUTE, ALTER ANY USER FROM [erp app];' },
    { can: 'DELETE on schema [erp]', remove: 'REVOKE DELETE ON SCHEMA::[erp] FROM [erp app];' },
    { can: 'INSERT, UPDATE on [dbo].[Pedidos]', remove: 'REVOKE INSERT, UPDATE ON [dbo].[Pedidos] FROM [erp app];' },
    { can: 'EXECUTE on [erp].[sp_GravaPedido]', remove: 'REVOKE EXECUTE ON [erp].[sp_GravaPedido] FROM [erp app];' },
    { can: 'UPDATE ([Preco]) on [dbo].[Precos]', remove: 'REVOKE UPDATE ([Preco]) ON [dbo].[Precos] FROM [erp app];' },
    { can: 'IMPERSONATE on USER::[erp_owner]', remove: 'REVOKE IMPERSONATE ON USER::[erp_owner] FROM [erp app];' },
    { can: 'ALTER on ROLE::[db_datawriter]', remove: 'REVOKE ALTER ON ROLE::[db_datawriter] FROM [erp app];' },
    { can: 'IMPERSONATE login [sa]', remove: 'REVOKE IMPERSONATE ON LOGIN::[sa] FROM [erp_app];' }
  ], 'grouped per securable, server first, each with the statement that removes it')
  t.same(writeCapabilities([['role', null, 'db_owner', null], ['role', null, 'db_owner', null], ['surprise', null, 'x', null]], who),
    [{ can: 'member of db_owner', remove: 'ALTER ROLE [db_owner] DROP MEMBER [erp app];' }], 'duplicates once; unknown kinds ignored')
  t.same(writeCapabilities([['object', 'dbo', 'Odd]Name', 'DELETE']], who)[0],
    { can: 'DELETE on [dbo].[Odd]]Name]', remove: 'REVOKE DELETE ON [dbo].[Odd]]Name] FROM [erp app];' }, 'names bracket-quoted as QUOTENAME does')
})

t.test('mssql write access – a db_owner database lists its first permissions, a long list its first capabilities', async (t) => {
  const many = Array.from({ length: 11 }, (_, i) => ['database', null, null, `PERM ${i}`])
  t.same(writeCapabilities(many, who)[0]!.can, 'PERM 0, PERM 1, PERM 2, PERM 3, PERM 4, PERM 5, PERM 6, PERM 7 and 3 more on the database')
  const objects = Array.from({ length: LISTED_CAPABILITIES + 3 }, (_, i) => ['object', 'dbo', `T${i}`, 'INSERT'])
  const text = describeWriteCapabilities(writeCapabilities(objects, who))
  t.match(text, /^INSERT on \[dbo\]\.\[T0\] \(remove: REVOKE INSERT ON \[dbo\]\.\[T0\] FROM \[erp app\];\); INSERT on \[dbo\]\.\[T1\]/)
  t.match(text, /; and 3 more \(run the check in docs\/sql-server\.md §1 to list them all\)$/)
  t.notMatch(text, /\[T12\]/)
  t.equal(describeWriteCapabilities(writeCapabilities(objects.slice(0, 2), who)),
    'INSERT on [dbo].[T0] (remove: REVOKE INSERT ON [dbo].[T0] FROM [erp app];); INSERT on [dbo].[T1] (remove: REVOKE INSERT ON [dbo].[T1] FROM [erp app];)')
})

t.test('mssql write access – docs/sql-server.md §1 shows the statement the extractor runs', async (t) => {
  const { readFileSync } = await import('node:fs')
  const doc = readFileSync(new URL('../../../docs/sql-server.md', import.meta.url), 'utf8')
  t.ok(doc.includes(`EXECUTE AS LOGIN = N'sisporta_reader';\n${WRITE_ACCESS_SQL}\nREVERT;`), 'the check an admin runs is the check sisporta runs')
})

t.test('mssql write access – a login that enters as dbo (the owner, a sysadmin) is told to use another login: nothing can be revoked from dbo', async (t) => {
  const rows = [['role', null, 'db_owner', null], ['database', null, null, 'INSERT'], ['server-role', null, 'sysadmin', null]]
  const owner = writeCapabilities(rows, { login: 'erp_owner', user: 'dbo' })
  t.same(owner, [{ can: 'anything, as the database user dbo', remove: 'a separate login with only db_datareader (docs/sql-server.md §1): login [erp_owner] enters the database as dbo, its owner or a sysadmin, whose rights cannot be revoked' }])
  t.notMatch(describeWriteCapabilities(owner), /REVOKE|DROP MEMBER/, 'no remedy SQL Server would refuse')
  t.same(writeCapabilities([], { login: 'erp_owner', user: 'dbo' }), [], 'nothing found is nothing to say, even as dbo')
  t.equal(writeCapabilities(rows, { login: 'erp', user: 'erp' }).length, 3, 'another user gets one remedy per capability')
})
