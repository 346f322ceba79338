import t from 'tap'
import type { SourceDialect } from '../src/index.js'
import { stream } from './fixtures.js'
import { liveServer, whenMssqlLive, type LiveServer, type Teardown } from './mssql-live-setup.js'

// The login's write check, Row-Level Security / masking detection (on tables, and under views and
// query streams), memory-optimized tables (read directly, and under a view or query) and LOB
// pages at locking READ COMMITTED against a real server (issue 12, defects 6, 11, 8). Runs
// where SISPORTA_TEST_MSSQL_URL points at a server with a login that may create databases and
// logins (as mssql-live.test.ts, see mssql-live-setup.ts), and reports itself skipped otherwise.

const NOTES = 2500

interface Warnings { readonly lines: string[], readonly log: { debug: () => void, warn: (o: object, m: string) => void } }

interface Live extends Pick<LiveServer, 'database' | 'admin'> {
  /** SQL Server's major version (13: 2016). */
  readonly major: number
  /** A login and user with `grants` (T-SQL with `{user}` for the user's bracketed name): its URL. */
  login (grants: readonly string[]): Promise<string>
  open (url: string, options?: { allowWritableLogin?: boolean, log?: Warnings['log'] }): SourceDialect
}

function warnings (): Warnings {
  const lines: string[] = []
  return { lines, log: { debug: () => {}, warn: (_o, m) => lines.push(m) } }
}

/**
 * `sisporta_p_<random>` (snapshot isolation as asked) with `dbo.Notas` (Id int key, Texto
 * nvarchar(max), Email, 2,500 rows), `dbo.Outra`, schema `erp` and procedure `dbo.GravaNota`;
 * logins made by `login()` are dropped with the database at teardown.
 */
async function setUp (t: Teardown, snapshot: boolean): Promise<Live> {
  const live = await liveServer(t, { database: 'sisporta_p_', snapshot })
  const { database, admin } = live
  const version = await admin.request().query<{ major: number }>("SELECT CONVERT(int, SERVERPROPERTY('ProductMajorVersion')) AS major")
  await admin.request().batch('CREATE SCHEMA erp')
  await admin.request().batch('CREATE TABLE dbo.Notas (Id int NOT NULL PRIMARY KEY, Filial int NOT NULL, Texto nvarchar(max) NULL, Email nvarchar(100) NULL)')
  await admin.request().batch(`WITH n AS (SELECT TOP (${NOTES}) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS i FROM sys.all_columns AS a CROSS JOIN sys.all_columns AS b)
    INSERT INTO dbo.Notas (Id, Filial, Texto, Email) SELECT i, i % 2, REPLICATE(N'texto longo ', 20), CONCAT(N'cliente', i, N'@example.com') FROM n`)
  await admin.request().batch('CREATE TABLE dbo.Outra (Id int NOT NULL PRIMARY KEY)')
  await admin.request().batch('CREATE PROCEDURE dbo.GravaNota @id int AS INSERT INTO dbo.Outra (Id) VALUES (@id)')
  return {
    database,
    admin,
    major: Number(version.recordset[0]?.major ?? 0),
    async login (grants) {
      const { name, url } = await live.createLogin('sisporta_p_')
      await admin.request().batch(`CREATE USER [${name}] FOR LOGIN [${name}]; GRANT SELECT ON dbo.Notas TO [${name}]`)
      for (const grant of grants) await admin.request().batch(grant.replaceAll('{user}', `[${name}]`))
      return url
    },
    open: (url, options = {}) => live.open(url, options)
  }
}

const notes = (source: { allowFiltered?: boolean } = {}, email = true) => stream({
  name: 'notes',
  source: { table: 'dbo.Notas', ...source },
  key: ['id'],
  columns: [
    { name: 'id', from: 'Id', type: 'int' },
    { name: 'text', from: 'Texto', type: 'string' },
    ...(email ? [{ name: 'email', from: 'Email', type: 'string' as const }] : [])
  ]
})
const noteQuery = stream({
  name: 'note_query',
  source: { query: 'SELECT n.Id AS id FROM dbo.Notas AS n' },
  key: ['id'],
  columns: [{ name: 'id', from: 'id', type: 'int' }]
})

whenMssqlLive('mssql live permissions', () => {
  t.test('mssql live permissions – read-only logins are accepted, every way to write is refused', async (t) => {
    const live = await setUp(t, true)
    await live.admin.request().batch(`ALTER DATABASE [${live.database}] SET CHANGE_TRACKING = ON; ALTER TABLE dbo.Notas ENABLE CHANGE_TRACKING`)
    const readerUrl = await live.login([
      'ALTER ROLE db_datareader ADD MEMBER {user}', 'GRANT VIEW DEFINITION TO {user}', 'GRANT VIEW DATABASE STATE TO {user}',
      'GRANT SHOWPLAN TO {user}', 'GRANT VIEW CHANGE TRACKING ON dbo.Notas TO {user}'
    ])
    const reader = live.open(readerUrl)
    t.equal((await reader.describe(notes())).object, '[dbo].[Notas]', 'db_datareader, VIEW DEFINITION, VIEW DATABASE STATE, SHOWPLAN, VIEW CHANGE TRACKING: accepted')
    t.equal((await reader.readPage(noteQuery, undefined, 3)).length, 3)
    const plain = live.open(await live.login([]))
    t.equal((await plain.readPage(notes(), undefined, 3)).length, 3, 'SELECT on the table only: accepted')

    const refused: Array<[string, string[], RegExp]> = [
      ['db_datawriter', ['ALTER ROLE db_datawriter ADD MEMBER {user}'], /member of db_datawriter \(remove: ALTER ROLE \[db_datawriter\] DROP MEMBER \[sisporta_p_\w+\];\)/],
      ['database EXECUTE', ['GRANT EXECUTE TO {user}'], /EXECUTE on the database \(remove: REVOKE EXECUTE FROM/],
      ['EXECUTE on a procedure', ['GRANT EXECUTE ON dbo.GravaNota TO {user}'], /EXECUTE on \[dbo\]\.\[GravaNota\]/],
      ['a schema grant', ['GRANT INSERT ON SCHEMA::erp TO {user}'], /INSERT on schema \[erp\]/],
      ['an unmapped table', ['GRANT UPDATE, DELETE ON dbo.Outra TO {user}'], /UPDATE, DELETE on \[dbo\]\.\[Outra\]|DELETE, UPDATE on \[dbo\]\.\[Outra\]/],
      ['the mapped table', ['GRANT INSERT ON dbo.Notas TO {user}'], /INSERT on \[dbo\]\.\[Notas\]/],
      ['a column', ['GRANT UPDATE (Texto) ON dbo.Notas TO {user}'], /UPDATE \(\[Texto\]\) on \[dbo\]\.\[Notas\] \(remove: REVOKE UPDATE \(\[Texto\]\) ON \[dbo\]\.\[Notas\] FROM/],
      ['ALTER ANY USER', ['GRANT ALTER ANY USER TO {user}'], /ALTER ANY USER on the database/],
      ['ALTER ANY ROLE', ['GRANT ALTER ANY ROLE TO {user}'], /ALTER ANY ROLE on the database/],
      ['IMPERSONATE', ['CREATE USER sisporta_owner_u WITHOUT LOGIN', 'GRANT IMPERSONATE ON USER::sisporta_owner_u TO {user}'], /IMPERSONATE on USER::\[sisporta_owner_u\]/],
      ['db_securityadmin', ['ALTER ROLE db_securityadmin ADD MEMBER {user}'], /member of db_securityadmin/],
      // object permissions are asked only of objects the login's token owns or was granted on: through a role, and by ownership
      ['a custom role\'s grant', ['CREATE ROLE sisporta_grava', 'GRANT DELETE ON dbo.Outra TO sisporta_grava', 'ALTER ROLE sisporta_grava ADD MEMBER {user}'], /DELETE on \[dbo\]\.\[Outra\]/],
      ['public\'s grant', ['GRANT UPDATE ON dbo.Outra TO public'], /UPDATE on \[dbo\]\.\[Outra\]/],
      ['an owned table', ['ALTER AUTHORIZATION ON OBJECT::dbo.Outra TO {user}'], /CONTROL.* on \[dbo\]\.\[Outra\]|on \[dbo\]\.\[Outra\].*CONTROL/]
    ]
    for (const [what, grants, message] of refused) {
      const url = await live.login(grants)
      for (const s of [notes(), noteQuery]) {
        const dialect = live.open(url)
        await t.rejects(dialect.describe(s), { code: 'SIS_SRC_WRITABLE_LOGIN', message }, `${what}: ${s.name} refused`)
      }
      if (grants[0]!.startsWith('CREATE USER')) await live.admin.request().batch('DROP USER sisporta_owner_u')
      if (grants[0]!.startsWith('CREATE ROLE')) await live.admin.request().batch('REVOKE DELETE ON dbo.Outra FROM sisporta_grava')
      if (grants[0]!.includes('TO public')) await live.admin.request().batch('REVOKE UPDATE ON dbo.Outra FROM public')
      if (grants[0]!.startsWith('ALTER AUTHORIZATION')) await live.admin.request().batch('ALTER AUTHORIZATION ON OBJECT::dbo.Outra TO SCHEMA OWNER')
    }
    const executor = await live.login(['GRANT EXECUTE TO {user}'])
    const allowed = live.open(executor, { allowWritableLogin: true })
    t.equal((await allowed.readPage(notes(), undefined, 3)).length, 3, '--allow-writable-login still reads')
  })

  t.test('mssql live permissions – Row-Level Security and masking are detected at describe', async (t) => {
    const live = await setUp(t, true)
    if (live.major < 13) { t.plan(0, 'Row-Level Security and masking need SQL Server 2016'); return }
    await live.admin.request().batch('CREATE SCHEMA seg')
    await live.admin.request().batch('CREATE FUNCTION seg.fn_filial (@filial int) RETURNS TABLE WITH SCHEMABINDING AS RETURN SELECT 1 AS ok WHERE @filial = 0 OR IS_MEMBER(\'db_owner\') = 1')
    await live.admin.request().batch('CREATE SECURITY POLICY seg.PorFilial ADD FILTER PREDICATE seg.fn_filial(Filial) ON dbo.Notas WITH (STATE = ON)')
    const seeing = await live.login(['GRANT VIEW DEFINITION TO {user}'])
    await t.rejects(live.open(seeing).describe(notes()), { code: 'SIS_SRC_FILTERED', exitCode: 2, message: /Row-Level Security filters \[dbo\]\.\[Notas\] by security policy \[seg\]\.\[PorFilial\]/ })
    const log = warnings()
    const opted = live.open(seeing, { log: log.log })
    const rows = await opted.readPage(notes({ allowFiltered: true }), undefined, 5000)
    t.equal(rows.length, NOTES / 2, 'opted in: what the login sees')
    t.ok(log.lines.some((l) => /loading what the login sees because the stream sets source\.allowFiltered/.test(l)))
    const blind = warnings()
    await live.open(await live.login([]), { log: blind.log }).describe(notes())
    t.ok(blind.lines.some((l) => /cannot see Row-Level Security policies/.test(l)), 'without VIEW DEFINITION: warned that the check cannot see policies')

    // the filtered table read through a query stream (joined, only in a WHERE, or under a view whose name does not contain the table's) or a view
    await live.admin.request().batch('CREATE VIEW dbo.vNotas AS SELECT n.Id, n.Filial, n.Texto, n.Email FROM dbo.Notas AS n')
    await live.admin.request().batch('CREATE VIEW dbo.vResumo AS SELECT v.Id, v.Email FROM dbo.vNotas AS v')
    await live.admin.request().batch('INSERT INTO dbo.Outra (Id) VALUES (1), (2), (3), (4)')
    const through = await live.login(['GRANT VIEW DEFINITION TO {user}', 'GRANT SELECT ON dbo.vNotas TO {user}', 'GRANT SELECT ON dbo.vResumo TO {user}', 'GRANT SELECT ON dbo.Outra TO {user}'])
    const policy = /Row-Level Security filters \[dbo\]\.\[Notas\] by security policy \[seg\]\.\[PorFilial\]/
    const joined = stream({ name: 'joined', source: { query: 'SELECT o.Id AS id, n.Email AS email FROM dbo.Outra AS o JOIN dbo.Notas AS n ON n.Id = o.Id' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'email', from: 'email', type: 'string' }] })
    const onlyInWhere = stream({ name: 'only_in_where', source: { query: 'SELECT o.Id AS id FROM dbo.Outra AS o WHERE EXISTS (SELECT 1 FROM dbo.Notas AS n WHERE n.Id = o.Id)' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }] })
    const overView = stream({ name: 'over_view', source: { query: 'SELECT v.Id AS id FROM dbo.vResumo AS v' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }] })
    const viewStream = stream({ name: 'view', source: { table: 'dbo.vNotas' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }] })
    for (const s of [joined, onlyInWhere, overView, viewStream]) {
      await t.rejects(live.open(through).describe(s), { code: 'SIS_SRC_FILTERED', exitCode: 2, message: policy }, `${s.name}: the filtered table under a query or view is refused`)
    }
    const unfiltered = stream({ name: 'unfiltered', source: { query: 'SELECT o.Id AS id FROM dbo.Outra AS o' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }] })
    t.equal((await live.open(through).readPage(unfiltered, undefined, 10)).length, 4, 'a query over unfiltered tables only: accepted')
    const throughLog = warnings()
    const optedQuery = { ...joined, source: { ...joined.source, allowFiltered: true } }
    t.equal((await live.open(through, { log: throughLog.log }).readPage(optedQuery, undefined, 10)).length, 2, 'opted in: the rows the login sees (Filial 0 of Ids 1–4)')
    t.ok(throughLog.lines.some((l) => policy.test(l) && /source\.allowFiltered/.test(l)))
    await live.admin.request().batch('ALTER SECURITY POLICY seg.PorFilial WITH (STATE = OFF)')

    await live.admin.request().batch("ALTER TABLE dbo.Notas ALTER COLUMN Email ADD MASKED WITH (FUNCTION = 'email()')")
    const masked = await live.login([])
    await t.rejects(live.open(masked).describe(notes()), { code: 'SIS_SRC_FILTERED', message: /Dynamic Data Masking hides \[dbo\]\.\[Notas\] column Email \(masked with email\(\)\)/ })
    t.equal((await live.open(masked).describe(notes({}, false))).columns.length, 2, 'the masked column not mapped: accepted')
    const unmasked = await live.login(['GRANT UNMASK TO {user}'])
    t.equal((await live.open(unmasked).readPage(notes(), [0], 1))[0]?.[2], 'cliente1@example.com', 'UNMASK: accepted, values intact')

    // the masked column read through a view or a query
    const viewer = await live.login(['GRANT SELECT ON dbo.vNotas TO {user}'])
    const maskedView = stream({ name: 'masked_view', source: { table: 'dbo.vNotas' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }, { name: 'email', from: 'Email', type: 'string' }] })
    await t.rejects(live.open(viewer).describe(maskedView), { code: 'SIS_SRC_FILTERED', message: /Dynamic Data Masking hides \[dbo\]\.\[Notas\] column Email \(masked with email\(\)\)/ }, 'a view column from the masked column: refused')
    const idsView = stream({ name: 'ids_view', source: { table: 'dbo.vNotas' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }, { name: 'text', from: 'Texto', type: 'string' }] })
    t.equal((await live.open(viewer).readPage(idsView, undefined, 3)).length, 3, 'the view without the masked column: accepted (its columns traced to their base columns)')
    const computed = stream({ name: 'computed', source: { query: 'SELECT n.Id AS id, UPPER(n.Email) AS email FROM dbo.Notas AS n' }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'email', from: 'email', type: 'string' }] })
    await t.rejects(live.open(viewer).describe(computed), { code: 'SIS_SRC_FILTERED', message: /Dynamic Data Masking hides \[dbo\]\.\[Notas\] column Email/ }, 'an expression over the masked column: refused')
    const maskedOk = { ...maskedView, source: { table: 'dbo.vNotas', allowFiltered: true } }
    t.match((await live.open(viewer).readPage(maskedOk, undefined, 1))[0]?.[1], /^c/, 'opted in: the masked values, as the login sees them')
  })

  t.test('mssql live permissions – a memory-optimized table reads under snapshot isolation', async (t) => {
    const live = await setUp(t, true)
    try {
      await live.admin.request().batch(`ALTER DATABASE [${live.database}] ADD FILEGROUP mo CONTAINS MEMORY_OPTIMIZED_DATA`)
      const path = await live.admin.request().query<{ p: string }>("SELECT CONVERT(nvarchar(400), SERVERPROPERTY('InstanceDefaultDataPath')) AS p")
      await live.admin.request().batch(`ALTER DATABASE [${live.database}] ADD FILE (NAME = N'mo', FILENAME = N'${String(path.recordset[0]?.p ?? '')}${live.database}_mo') TO FILEGROUP mo`)
      await live.admin.request().batch('CREATE TABLE dbo.Memoria (Id int NOT NULL PRIMARY KEY NONCLUSTERED, Nome nvarchar(40) NULL) WITH (MEMORY_OPTIMIZED = ON, DURABILITY = SCHEMA_ONLY)')
    } catch (err) {
      t.plan(0, `memory-optimized tables not available here: ${(err as Error).message}`)
      return
    }
    await live.admin.request().batch("INSERT INTO dbo.Memoria (Id, Nome) VALUES (1, N'um'), (2, N'dois'), (3, N'três')")
    const url = await live.login(['GRANT SELECT ON dbo.Memoria TO {user}'])
    const memory = stream({ name: 'memory', source: { table: 'dbo.Memoria' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }, { name: 'name', from: 'Nome', type: 'string' }] })
    const dialect = live.open(url)
    t.same(await dialect.readPage(memory, undefined, 2), [[1, 'um'], [2, 'dois']], 'no error 41332')
    t.same(await dialect.readPage(memory, [2], 2), [[3, 'três']])

    // under a view or a query no WITH (SNAPSHOT) hint reaches the table: read at READ COMMITTED instead of failing with 41332
    await live.admin.request().batch('CREATE VIEW dbo.vMemoria AS SELECT m.Id, m.Nome FROM dbo.Memoria AS m')
    // VIEW DEFINITION: the view's references are then visible too, besides its columns' base tables (browse information)
    const viewUrl = await live.login(['GRANT VIEW DEFINITION TO {user}', 'GRANT SELECT ON dbo.vMemoria TO {user}', 'GRANT SELECT ON dbo.Memoria TO {user}'])
    const log = warnings()
    const overView = live.open(viewUrl, { log: log.log })
    const memoryView = stream({ name: 'memory_view', source: { table: 'dbo.vMemoria' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }, { name: 'name', from: 'Nome', type: 'string' }] })
    t.same(await overView.readPage(memoryView, undefined, 5), [[1, 'um'], [2, 'dois'], [3, 'três']], 'a view over a memory-optimized table: no error 41332')
    t.ok(log.lines.some((l) => /reads the memory-optimized \[dbo\]\.\[Memoria\] through a view or query/.test(l)), 'said at describe')
    const memoryQuery = stream({ name: 'memory_query', source: { query: 'SELECT m.Id AS id, m.Nome AS name FROM dbo.Memoria AS m', nolock: true }, key: ['id'], columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'name', from: 'name', type: 'string' }] })
    t.same(await overView.readPage(memoryQuery, [1], 5), [[2, 'dois'], [3, 'três']], 'a nolock query over one: READ COMMITTED, no error')
  })

  t.test('mssql live permissions – LOB columns at locking READ COMMITTED are read in statements of 1,000 rows', async (t) => {
    const live = await setUp(t, false)
    const log = warnings()
    const dialect = live.open(await live.login([]), { log: log.log })
    const rows = await dialect.readPage(notes(), undefined, NOTES)
    t.equal(rows.length, NOTES, 'the whole page, over three statements')
    t.same(rows.map((r) => r[0]), Array.from({ length: NOTES }, (_, i) => i + 1), 'in key order, none skipped or repeated')
    t.ok(log.lines.some((l) => /LOB columns at locking READ COMMITTED .* at most 1000 rows/.test(l)))
  })
})
