import mssql from 'mssql'
import t from 'tap'
import type { StreamConfig } from '@sisporta/contracts'
import { MssqlDialect, type MssqlPoolLike, type MssqlRequestLike, type MssqlResultLike } from '../src/index.js'
import { MSSQL_LOB_LOCKING_PAGE_ROWS } from '../src/mssql/mssql-dialect.js'
import { SILENT_FILTERS_SQL } from '../src/mssql/mssql-silent-filters.js'
import { DATABASE_SQL, DESCRIBE_QUERY_SQL, FIND_OBJECT_SQL, TABLE_COLUMNS_SQL, UNIQUE_INDEXES_SQL } from '../src/mssql/mssql-sql.js'
import { WRITE_ACCESS_SQL } from '../src/mssql/mssql-write-access.js'
import { stream } from './fixtures.js'

// The dialect around the login's write check, the silent-filter check and the lock-related page
// plans (issue 12, defects 6, 8 and 11), driven through a fake pool as in mssql-dialect.test.ts:
// which statements are sent, in which order, and what the dialect decides on their rows.

interface Sent { readonly sql: string, readonly params: Record<string, unknown> }

interface Fake {
  /** `[name, snapshot_isolation_state_desc, is_read_committed_snapshot_on, …]` */
  database?: unknown[]
  writeAccess?: unknown[][]
  silentFilters?: unknown[][]
  pages?: unknown[][][]
  /** `sys.objects.type` of `dbo.Notas`: `'U '` unless given (`'V '`: a view). */
  objectType?: string
}

class FakePool implements MssqlPoolLike {
  readonly sent: Sent[] = []
  constructor (readonly fake: Fake) {}
  async connect (): Promise<void> {}
  async close (): Promise<void> {}
  request (): MssqlRequestLike {
    const params: Record<string, unknown> = {}
    const pool = this
    return {
      arrayRowMode: false,
      input (name, _type, value) { params[name] = value },
      async query (sql) {
        pool.sent.push({ sql, params })
        return pool.answer(sql)
      }
    }
  }

  get pages (): Sent[] { return this.sent.filter((s) => s.sql.startsWith('SET TRANSACTION')) }

  answer (sql: string): MssqlResultLike {
    const rows = (recordset: unknown[][]): MssqlResultLike => ({ recordset, columns: [[]] })
    const f = this.fake
    switch (sql) {
      case DATABASE_SQL: return rows([f.database ?? ['ERP', 'ON', false, 'READ_WRITE', '16.0.4135.4', 'sisporta_reader', 'sisporta_reader']])
      case WRITE_ACCESS_SQL: return rows(f.writeAccess ?? [])
      case FIND_OBJECT_SQL: return rows([['dbo', 'Notas', f.objectType ?? 'U ', 77]])
      case TABLE_COLUMNS_SQL: return rows([['Id', 'int', 4, 10, 0, false, null], ['Texto', 'nvarchar', -1, 0, 0, true, 'Latin1_General_CI_AS']])
      case UNIQUE_INDEXES_SQL: return rows([[1, 'PK_Notas', true, 'Id']])
      case SILENT_FILTERS_SQL: return rows(f.silentFilters ?? [])
      case DESCRIBE_QUERY_SQL: return rows([['id', 'int', 4, 10, 0, false, null, null, null], ['text', 'nvarchar(max)', -1, 0, 0, true, 'Latin1_General_CI_AS', null, null]])
    }
    if (sql.startsWith('SET TRANSACTION')) return rows(f.pages?.shift() ?? [])
    return rows([])
  }
}

const notes = (source: StreamConfig['source'] = { table: 'dbo.Notas' }): StreamConfig => stream({
  name: 'notes',
  source,
  key: ['id'],
  columns: [{ name: 'id', from: 'Id', type: 'int' }, { name: 'text', from: 'Texto', type: 'string' }]
})
const noteQuery = (extra: { allowFiltered?: boolean, nolock?: boolean } = {}): StreamConfig => stream({
  name: 'note_query',
  source: { query: 'SELECT n.Id AS id, n.Texto AS text FROM dbo.Notas AS n', ...extra },
  key: ['id'],
  columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'text', from: 'text', type: 'string' }]
})

function logSink (): { log: { debug: (o: object, m: string) => void, warn: (o: object, m: string) => void }, warnings: string[] } {
  const warnings: string[] = []
  return { warnings, log: { debug: () => {}, warn: (_o, m) => warnings.push(m) } }
}

const rowsFrom = (first: number, count: number): unknown[][] => Array.from({ length: count }, (_, i) => [first + i, `nota ${first + i}`])

t.test('mssql guarded reads – a read-only login: one write check for the login, the silent-filter check per table', async (t) => {
  const pool = new FakePool({})
  const dialect = new MssqlDialect(pool)
  await dialect.describe(notes())
  const order = pool.sent.map((s) => s.sql)
  t.same(order.slice(0, 2), [DATABASE_SQL, WRITE_ACCESS_SQL], 'the login is checked before the table is looked at')
  const filters = pool.sent.find((s) => s.sql === SILENT_FILTERS_SQL)
  t.same(filters?.params, { object_id: 77, tsql: null, query: null }, 'RLS, masks and memory-optimized asked about the resolved table')
  t.equal(order.filter((s) => s === WRITE_ACCESS_SQL).length, 1)

  const queries = new FakePool({})
  await new MssqlDialect(queries).describe(noteQuery())
  t.same(queries.sent.map((s) => s.sql).slice(0, 2), [DATABASE_SQL, WRITE_ACCESS_SQL], 'a query stream gets the login check too')
  t.same(queries.sent.find((s) => s.sql === SILENT_FILTERS_SQL)?.params, {
    object_id: null,
    tsql: 'SELECT * FROM (\nSELECT n.Id AS id, n.Texto AS text FROM dbo.Notas AS n\n) AS q',
    query: 'SELECT n.Id AS id, n.Texto AS text FROM dbo.Notas AS n'
  }, 'a query stream: what its result columns come from and every object its text names')
  const views = new FakePool({ objectType: 'V ' })
  await new MssqlDialect(views).describe(notes())
  t.same(views.sent.find((s) => s.sql === SILENT_FILTERS_SQL)?.params, { object_id: 77, tsql: 'SELECT * FROM [dbo].[Notas]', query: null },
    'a view: itself, and its columns described down to their base tables')
})

t.test('mssql guarded reads – a query or view over a filtered or masked table is refused unless source.allowFiltered', async (t) => {
  const filtered = new FakePool({ silentFilters: [['rls', '[dbo].[Notas]', '[seg].[PorFilial]', null]] })
  await t.rejects(new MssqlDialect(filtered).describe(noteQuery()), { code: 'SIS_SRC_FILTERED', stream: 'note_query', exitCode: 2, message: /Row-Level Security filters \[dbo\]\.\[Notas\] by security policy \[seg\]\.\[PorFilial\]/ })
  t.equal(filtered.pages.length, 0, 'nothing read')
  const masked = [['source', 'id', '[dbo].[Notas]', 'Id'], ['source', 'text', '[dbo].[Notas]', 'Texto'], ['mask', '[dbo].[Notas]', 'Texto', 'default()']]
  await t.rejects(new MssqlDialect(new FakePool({ silentFilters: masked, objectType: 'V ' })).describe(notes()), { code: 'SIS_SRC_FILTERED', message: /Dynamic Data Masking hides \[dbo\]\.\[Notas\] column Texto/ }, 'a view column traced to a masked column')
  await t.rejects(new MssqlDialect(new FakePool({ silentFilters: masked })).describe(noteQuery()), { code: 'SIS_SRC_FILTERED' }, 'a query column traced to a masked column')
  await new MssqlDialect(new FakePool({ silentFilters: [masked[0]!, ['source', 'text', '[dbo].[Notas]', 'Nome'], masked[2]!] })).describe(noteQuery())
  t.pass('no mapped column comes from the masked one: accepted')
  const other = new FakePool({ silentFilters: [['unresolved', '[Outra].[dbo].[Precos]', null, null]] })
  await t.rejects(new MssqlDialect(other).describe(noteQuery()), { code: 'SIS_SRC_FILTERED', message: /reads \[Outra\]\.\[dbo\]\.\[Precos\] in another database or on another server, whose security policies and masks cannot be checked from database 'ERP'/ })
  const { log, warnings } = logSink()
  const opted = new MssqlDialect(new FakePool({ silentFilters: [['rls', '[dbo].[Notas]', '[seg].[PorFilial]', null]], pages: [rowsFrom(1, 1)] }), { log })
  const optedQuery = noteQuery({ allowFiltered: true })
  t.same(await opted.readPage(optedQuery, undefined, 10), [[1, 'nota 1']], 'opted in: read')
  t.match(warnings, [/loading what the login sees because the stream sets source\.allowFiltered/])
})

t.test('mssql guarded reads – a view or query over a memory-optimized table is read at READ COMMITTED, without a hint', async (t) => {
  const silentFilters = [['memory-optimized', '[dbo].[Sessoes]', null, null]]
  const { log, warnings } = logSink()
  const view = new FakePool({ silentFilters, objectType: 'V ', pages: [rowsFrom(1, 3)] })
  await new MssqlDialect(view, { log }).readPage(notes({ table: 'dbo.Notas', nolock: true }), undefined, 3)
  t.equal(view.pages[0]!.sql.split('\n')[0], 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED;', 'not SNAPSHOT (error 41332), not READ UNCOMMITTED')
  t.match(view.pages[0]!.sql, / FROM \[dbo\]\.\[Notas\] AS s ORDER BY/, 'no hint on the view: neither SNAPSHOT (the view is no memory-optimized table) nor NOLOCK')
  t.match(warnings, [/reads the memory-optimized \[dbo\]\.\[Sessoes\] through a view or query, .* pages are read at READ COMMITTED \(nolock ignored\)/])
  const query = new FakePool({ silentFilters, pages: [rowsFrom(1, 3)] })
  const nolockQuery = noteQuery({ nolock: true })
  await new MssqlDialect(query).readPage(nolockQuery, undefined, 3)
  t.equal(query.pages[0]!.sql.split('\n')[0], 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED;', 'a nolock query over one: READ COMMITTED too')
  const plain = new FakePool({ objectType: 'V ', pages: [rowsFrom(1, 3)] })
  await new MssqlDialect(plain).readPage(notes(), undefined, 3)
  t.equal(plain.pages[0]!.sql.split('\n')[0], 'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;', 'a view over disk tables: SNAPSHOT as before')
})

t.test('mssql guarded reads – a login that can write is refused for table and query streams, every capability named', async (t) => {
  const writeAccess = [['role', null, 'db_datawriter', null], ['database', null, null, 'EXECUTE']]
  const database = ['ERP', 'ON', false, 'READ_WRITE', '16.0', 'erp_app', 'erp_app']
  for (const s of [notes(), noteQuery()]) {
    const pool = new FakePool({ database, writeAccess })
    const err = await new MssqlDialect(pool).describe(s).then(() => undefined, (e: unknown) => e)
    t.match(err, { code: 'SIS_SRC_WRITABLE_LOGIN', stream: s.name, exitCode: 2 })
    t.equal((err as Error).message,
      `stream '${s.name}': the source login 'erp_app' (user 'erp_app' in database 'ERP') can write: member of db_datawriter (remove: ALTER ROLE [db_datawriter] DROP MEMBER [erp_app];); ` +
      'EXECUTE on the database (remove: REVOKE EXECUTE FROM [erp_app];). sisporta only reads and needs a read-only login: remove these, or create one with SELECT on the mapped tables only (docs/sql-server.md §1); ' +
      'or pass --allow-writable-login (SISPORTA_ALLOW_WRITABLE_LOGIN=1) to read with this one anyway')
    t.same(pool.sent.map((x) => x.sql), [DATABASE_SQL, WRITE_ACCESS_SQL], 'nothing else is asked, nothing read')
  }
  const { log, warnings } = logSink()
  const allowed = new MssqlDialect(new FakePool({ writeAccess, pages: [rowsFrom(1, 2)] }), { log, allowWritableLogin: true })
  t.same(await allowed.readPage(notes(), undefined, 10), [[1, 'nota 1'], [2, 'nota 2']])
  t.match(warnings, [/can write: member of db_datawriter .*reading anyway because writable logins are allowed/])
})

t.test('mssql guarded reads – Row-Level Security or masking refuses the stream unless source.allowFiltered', async (t) => {
  const silentFilters = [['rls', '[dbo].[Notas]', '[seg].[PorFilial]', null], ['mask', '[dbo].[Notas]', 'Texto', 'default()']]
  const pool = new FakePool({ silentFilters })
  await t.rejects(new MssqlDialect(pool).describe(notes()), { code: 'SIS_SRC_FILTERED', stream: 'notes', exitCode: 2, message: /Row-Level Security filters \[dbo\]\.\[Notas\] by security policy \[seg\]\.\[PorFilial\]; Dynamic Data Masking hides \[dbo\]\.\[Notas\] column Texto/ })
  t.equal(pool.pages.length, 0, 'nothing read')

  const { log, warnings } = logSink()
  const opted = new MssqlDialect(new FakePool({ silentFilters, pages: [rowsFrom(1, 1)] }), { log })
  t.same(await opted.readPage(notes({ table: 'dbo.Notas', allowFiltered: true }), undefined, 10), [[1, 'nota 1']])
  t.match(warnings, [/loading what the login sees because the stream sets source\.allowFiltered/])

  const unmapped = new MssqlDialect(new FakePool({ silentFilters: [['mask', '[dbo].[Notas]', 'Cpf', 'default()']] }))
  await unmapped.describe(notes())
  t.pass('a mask on a column the stream does not map is no reason to refuse')

  const hidden = logSink()
  const blind = new MssqlDialect(new FakePool({ silentFilters: [['policies-hidden', null, null, null]] }), { log: hidden.log })
  await blind.describe(notes())
  await blind.describe(notes())
  t.equal(hidden.warnings.filter((w) => /cannot see Row-Level Security policies/.test(w)).length, 1, 'a login that cannot see policies is warned about once')
})

t.test('mssql guarded reads – a memory-optimized table is read at READ COMMITTED with WITH (SNAPSHOT)', async (t) => {
  const pool = new FakePool({ silentFilters: [['memory-optimized', '[dbo].[Notas]', null, null]], pages: [rowsFrom(1, 3)] })
  await new MssqlDialect(pool).readPage(notes({ table: 'dbo.Notas', nolock: true }), undefined, 3000)
  t.equal(pool.pages.length, 1, 'no LOB cap: memory-optimized reads take no locks')
  t.equal(pool.pages[0]!.sql.split('\n')[0], 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED;', 'not SNAPSHOT (error 41332), not READ UNCOMMITTED')
  t.match(pool.pages[0]!.sql, / FROM \[dbo\]\.\[Notas\] AS s WITH \(SNAPSHOT\) ORDER BY/)
  t.notMatch(pool.pages[0]!.sql, /NOLOCK/)

  const disk = new FakePool({ pages: [rowsFrom(1, 3)] })
  await new MssqlDialect(disk).readPage(notes(), undefined, 3000)
  t.equal(disk.pages[0]!.sql.split('\n')[0], 'SET TRANSACTION ISOLATION LEVEL SNAPSHOT;')
  t.notMatch(disk.pages[0]!.sql, /WITH \(SNAPSHOT\)/, 'a disk table takes no hint')
})

t.test('mssql guarded reads – LOB columns under locking READ COMMITTED: a page is read in statements of 1,000 rows', async (t) => {
  t.equal(MSSQL_LOB_LOCKING_PAGE_ROWS, 1000)
  const { log, warnings } = logSink()
  const pool = new FakePool({ database: ['ERP', 'OFF', false, 'READ_WRITE', '16.0', 'r', 'r'], pages: [rowsFrom(1, 1000), rowsFrom(1001, 1000), rowsFrom(2001, 500)] })
  const dialect = new MssqlDialect(pool, { log })
  const rows = await dialect.readPage(notes(), undefined, 2500)
  t.equal(rows.length, 2500, 'the caller still gets the page it asked for')
  t.same(rows[2499], [2500, 'nota 2500'])
  t.same(pool.pages.map((p) => [p.params.n, p.params.k1]), [[1000, undefined], [1000, 1000], [500, 2000]], 'each statement after the previous one\'s last key')
  t.ok(pool.pages.every((p) => p.sql.startsWith('SET TRANSACTION ISOLATION LEVEL READ COMMITTED;')))
  t.equal(warnings.filter((w) => /LOB columns at locking READ COMMITTED/.test(w)).length, 1, 'said once')

  const short = new FakePool({ database: ['ERP', 'OFF', false, 'READ_WRITE', '16.0', 'r', 'r'], pages: [rowsFrom(1, 1000), rowsFrom(1001, 20)] })
  const end = await new MssqlDialect(short).readPage(notes(), [0], 5000)
  t.equal(end.length, 1020, 'a short statement ends the page early: the stream\'s end')
  t.equal(short.pages.length, 2)
  t.same(short.pages[0]!.params.k1, 0)

  for (const [what, database] of [['snapshot isolation', ['ERP', 'ON', false, 'READ_WRITE', '16.0', 'r', 'r']], ['read committed snapshot', ['ERP', 'OFF', true, 'READ_WRITE', '16.0', 'r', 'r']]] as const) {
    const versions = new FakePool({ database: [...database], pages: [rowsFrom(1, 3)] })
    await new MssqlDialect(versions).readPage(notes(), undefined, 2500)
    t.same(versions.pages.map((p) => p.params.n), [2500], `${what}: row versions, no locks, no cap`)
  }
  const nolock = new FakePool({ database: ['ERP', 'OFF', false, 'READ_WRITE', '16.0', 'r', 'r'], pages: [rowsFrom(1, 3)] })
  await new MssqlDialect(nolock).readPage(notes({ table: 'dbo.Notas', nolock: true }), undefined, 2500)
  t.same(nolock.pages.map((p) => p.params.n), [2500], 'NOLOCK: no shared locks, no cap')
  const narrow = new FakePool({ database: ['ERP', 'OFF', false, 'READ_WRITE', '16.0', 'r', 'r'], pages: [rowsFrom(1, 3)] })
  await new MssqlDialect(narrow).readPage(stream({ name: 'ids', source: { table: 'dbo.Notas' }, key: ['id'], columns: [{ name: 'id', from: 'Id', type: 'int' }] }), undefined, 2500)
  t.same(narrow.pages.map((p) => p.params.n), [2500], 'no LOB column: no cap')
})
