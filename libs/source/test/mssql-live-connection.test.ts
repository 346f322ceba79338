import t from 'tap'
import { createSourceDialect } from '../src/index.js'
import { createMssqlPool, runMssql, type MssqlPoolLike } from '../src/mssql/mssql-driver.js'
import type { MssqlConnectionSettings } from '../src/mssql/mssql-url.js'
import { adminSettings, mssqlUrl, whenMssqlLive } from './mssql-live-setup.js'

// Connection options against a real SQL Server (issue 12, defects 1 and 12): what the server
// sees of TLS, application name and the URL options. Runs where SISPORTA_TEST_MSSQL_URL points at
// a server with an admin login (mssql://sa:…@127.0.0.1:1433/master?trustServerCertificate=true),
// like mssql-live.test.ts (see mssql-live-setup.ts); skipped otherwise. Needs VIEW SERVER STATE
// (sys.dm_exec_connections).

/** The admin's URL with these parameters (encrypt and trustServerCertificate kept unless given). */
function urlWith (settings: MssqlConnectionSettings, extra: Record<string, string>): string {
  const user = settings.domain === undefined ? settings.user ?? '' : `${settings.domain}\\${settings.user ?? ''}`
  return mssqlUrl(settings, user, settings.password ?? '', 'master', extra)
}

/** This session's encryption, program name and whether it was opened: one row. */
async function session (pool: MssqlPoolLike): Promise<{ encrypted: string, program: string }> {
  const { rows } = await runMssql(pool, `SELECT c.encrypt_option, s.program_name
    FROM sys.dm_exec_connections AS c JOIN sys.dm_exec_sessions AS s ON s.session_id = c.session_id
    WHERE c.session_id = @@SPID`)
  const [encrypted, program] = rows[0] as [string, string]
  return { encrypted: String(encrypted).toUpperCase(), program }
}

whenMssqlLive('mssql live connection', () => {
  const settings = adminSettings()

  t.test('mssql live connection – TLS by default: the server sees an encrypted session named sisporta', async (t) => {
    const pool = createMssqlPool(urlWith(settings, { encrypt: 'true' }), {})
    t.teardown(() => pool.close())
    t.same(await session(pool), { encrypted: 'TRUE', program: 'sisporta' })
  })

  t.test('mssql live connection – encrypt=false is refused before connecting; allowed, the session really is in clear', async (t) => {
    const url = urlWith(settings, { encrypt: 'false' })
    t.throws(() => createSourceDialect(url), { code: 'SIS_SRC_PLAINTEXT', exitCode: 2 })
    const warnings: string[] = []
    const pool = createMssqlPool(url, { allowPlaintext: true, log: { debug: () => {}, warn: (_o, msg) => { warnings.push(msg) } } })
    t.teardown(() => pool.close())
    t.equal(warnings.length, 1, 'one warning')
    try {
      // what the docs say: with encryption off the driver never starts TLS, not even for the login
      t.same(await session(pool), { encrypted: 'FALSE', program: 'sisporta' })
    } catch (err) {
      // a server that forces encryption refuses the connection instead
      t.match(err, { code: 'SIS_SRC_CONNECT', message: /encrypt/i }, 'the server forces encryption')
    }
  })

  t.test('mssql live connection – MultiSubnetFailover, ApplicationIntent both ways, connect timeout accepted by server and driver', async (t) => {
    const variants: Array<Record<string, string>> = [
      { multiSubnetFailover: 'true', connectTimeout: '60000' },
      { applicationIntent: 'ReadWrite', connectTimeout: '5000' },
      { applicationIntent: 'ReadOnly', appName: 'sisporta-live' }
    ]
    for (const extra of variants) {
      const pool = createMssqlPool(urlWith(settings, extra), {})
      t.teardown(() => pool.close())
      const s = await session(pool)
      t.equal(s.encrypted, 'TRUE', JSON.stringify(extra))
      t.equal(s.program, extra['appName'] ?? 'sisporta')
    }
  })

  t.test('mssql live connection – a refused login through the connection-string form names the server and hides the password', async (t) => {
    const host = settings.port === undefined ? `${settings.server}\\${settings.instanceName ?? ''}` : `${settings.server},${settings.port}`
    const pool = createMssqlPool(`Server=${host};Database=master;User Id=sisporta_no_such_login;Password=Wrong!Secret9;TrustServerCertificate=${String(settings.trustServerCertificate)};Connect Timeout=30`, {})
    t.teardown(() => pool.close())
    const err = await runMssql(pool, 'SELECT 1').then(() => undefined, (e: unknown) => e as Error)
    t.match(err, { code: 'SIS_SRC_CONNECT', exitCode: 2 })
    t.notMatch(err?.message, /Wrong!Secret9/)
  })
})
