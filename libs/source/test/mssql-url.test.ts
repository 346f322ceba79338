import t from 'tap'
import { MssqlDialect, createSourceDialect } from '../src/index.js'
import { createRequire } from 'node:module'
import mssql from 'mssql'
import { createMssqlPool, mssqlPoolConfig } from '../src/mssql/mssql-driver.js'
import { checkMssqlEncryption, isMssqlConnectionString, parseMssqlUrl, redactMssqlUrl } from '../src/mssql/mssql-url.js'

function failure (text: string): Error {
  try {
    parseMssqlUrl(text)
  } catch (err) {
    return err as Error
  }
  throw new Error(`expected ${text} to fail`)
}

t.test('mssql url – the URL form with every parameter', async (t) => {
  const s = parseMssqlUrl('mssql://sisporta_reader:p%40ss%3Bw0rd@erp-db.local:1533/ERP%20Prod?encrypt=true&trustServerCertificate=false&poolMax=4&connectTimeout=15000&requestTimeout=60000&applicationIntent=ReadOnly&multiSubnetFailover=true&appName=sisporta-erp&hostNameInCertificate=erp-db.corp')
  t.same(s, {
    server: 'erp-db.local',
    port: 1533,
    database: 'ERP Prod',
    user: 'sisporta_reader',
    password: 'p@ss;w0rd',
    encrypt: true,
    trustServerCertificate: false,
    poolMax: 4,
    connectTimeoutMs: 15000,
    requestTimeoutMs: 60000,
    multiSubnetFailover: true,
    readOnlyIntent: true,
    appName: 'sisporta-erp',
    hostNameInCertificate: 'erp-db.corp'
  })
  t.ok(Object.isFrozen(s))
  t.match(parseMssqlUrl('sqlserver://reader:x@[::1]/ERP'), { server: '::1', port: 1433, database: 'ERP' })
  t.match(parseMssqlUrl('mssql://reader:x@erp?instanceName=ERP2019'), { server: 'erp', instanceName: 'ERP2019' })
  t.notOk('port' in parseMssqlUrl('mssql://reader:x@erp?instanceName=ERP2019'), 'a named instance is found through the SQL Server Browser')
  t.notOk('instanceName' in parseMssqlUrl('mssql://reader:x@erp:1433/ERP?instanceName=X'), 'an explicit port wins over the instance name, as in SqlClient')
  t.match(parseMssqlUrl('mssql://CORP%5Creader:x@erp/ERP'), { domain: 'CORP', user: 'reader' }, 'DOMAIN\\user: NTLM')
  t.match(parseMssqlUrl('mssql://reader:x@erp/ERP?domain=CORP&ENCRYPT=strict'), { domain: 'CORP', encrypt: 'strict' }, 'parameter names ignore case')
  t.notOk('database' in parseMssqlUrl('mssql://reader:x@erp'), 'no database: the login\'s default')
})

t.test('mssql url – the ADO.NET connection string an ERP admin pastes', async (t) => {
  t.same(parseMssqlUrl('Server=erp-db,1433;Database=ERP;User Id=sisporta_reader;Password=p;Encrypt=True;TrustServerCertificate=False;'), {
    server: 'erp-db', port: 1433, database: 'ERP', user: 'sisporta_reader', password: 'p', encrypt: true, trustServerCertificate: false, multiSubnetFailover: false, readOnlyIntent: true
  })
  t.match(parseMssqlUrl('Server=ERPSRV\\SQL2019;Database=ERP;User Id=r;Password=p'), { server: 'ERPSRV', instanceName: 'SQL2019' })
  t.notOk('port' in parseMssqlUrl('Server=ERPSRV\\SQL2019;User Id=r;Password=p'))
  t.match(parseMssqlUrl('Data Source=tcp:10.0.0.5,1500;Initial Catalog=ERP;UID=r;PWD="a;b""c";Connect Timeout=30;Command Timeout=120;Max Pool Size=3;ApplicationIntent=ReadOnly;MultiSubnetFailover=Yes'), {
    server: '10.0.0.5', port: 1500, database: 'ERP', user: 'r', password: 'a;b"c', connectTimeoutMs: 30_000, requestTimeoutMs: 120_000, poolMax: 3, multiSubnetFailover: true
  }, 'synonyms, quoted values, timeouts in seconds')
  t.match(parseMssqlUrl("Server=.;Database=ERP;User ID=CORP\\reader;Password='it''s'"), { server: 'localhost', domain: 'CORP', user: 'reader', password: "it's" })
  t.match(parseMssqlUrl('Server=(local);Encrypt=Optional;Trust Server Certificate=true'), { server: 'localhost', encrypt: false, trustServerCertificate: true })
  t.match(parseMssqlUrl('Server=erp;Persist Security Info=False;Pooling=true;MultipleActiveResultSets=True;Workstation ID=PC1;Encrypt=Mandatory'), { server: 'erp', encrypt: true }, 'pooling and session keywords are accepted and ignored')
  t.match(parseMssqlUrl('Server=erp;Integrated Security=False;User Id=r;Password=p'), { user: 'r' })
  t.equal(isMssqlConnectionString('Server=erp;Database=ERP'), true)
  t.equal(isMssqlConnectionString('Data Source=erp'), true)
  t.equal(isMssqlConnectionString('mssql://r:p@erp/ERP'), false)
  t.equal(isMssqlConnectionString('127.0.0.1:3306'), false)
})

t.test('mssql url – errors name the bad parameter and never print the password', async (t) => {
  const cases: [string, RegExp][] = [
    ['mssql://r:Secret1@erp/ERP?poolMax=0', /source URL: parameter 'poolMax' must be a whole number from 1 to 100, got '0'/],
    ['mssql://r:Secret1@erp/ERP?connectTimeout=fast', /parameter 'connectTimeout' must be a whole number from 1 to 3600000 milliseconds, got 'fast'/],
    ['mssql://r:Secret1@erp/ERP?encrypt=maybe', /parameter 'encrypt' must be true, false or strict, got 'maybe'/],
    ['mssql://r:Secret1@erp/ERP?trustServerCertificate=si', /parameter 'trustServerCertificate' must be true or false, got 'si'/],
    ['mssql://r:Secret1@erp/ERP?ssl=true', /unknown parameter 'ssl' \(known: encrypt, trustServerCertificate/],
    ['mssql://r:Secret1@erp/ERP?applicationIntent=Write', /parameter 'applicationIntent' must be ReadOnly \(the default\) or ReadWrite, got 'Write'/],
    ['mssql://r:Secret1@erp/ERP?poolMax=2&poolmax=3', /parameter 'poolmax' is given twice/],
    ['mssql://r:Secret1@erp/a/b', /the path must be just the database name/],
    ['mssql://r:Secret1@erp\\INST/ERP', /not a valid URL: mssql:\/\/r:\*\*\*@.*name an instance with \?instanceName=/],
    ['Server=erp;User Id=r;Password=Secret1;Encrypt=perhaps', /connection string: keyword 'encrypt' must be true, false or strict, got 'perhaps'/],
    ['Server=erp;User Id=r;Password=Secret1;Connect Timeout=0', /keyword 'connect timeout' must be a whole number from 1 to 3600 seconds, got '0'/],
    ['Server=erp,99999;Password=Secret1', /the port must be a whole number from 1 to 65535, got '99999'/],
    ['Server=erp;Password=Secret1;Colour=blue', /unknown keyword 'colour'/],
    ['Server=erp;Password=Secret1;Integrated Security=SSPI', /Windows integrated security .* User Id=DOMAIN\\user and Password \(NTLM\)/],
    ['Server=np:\\\\erp\\pipe\\sql\\query;Password=Secret1', /only TCP connections are supported, not 'np:'/],
    ['Server=erp;Password=Secret1;ApplicationIntent=Any', /keyword 'applicationintent' must be ReadOnly \(the default\) or ReadWrite, got 'Any'/],
    ['Server=erp;Password=Secret1;Authentication=Active Directory Integrated', /keyword 'authentication': 'Active Directory Integrated' is not supported; use SqlPassword \(the default\), Active Directory Service Principal, Active Directory Managed Identity \(or MSI\) or Active Directory Default/],
    ['Server=erp;User Id=app;Password=Secret1;Authentication=Active Directory Service Principal', /keyword 'authentication': a service principal needs its directory \(tenant\) id: Tenant Id=… \(in a URL \?tenantId=…\)/],
    ['Server=erp;User Id=app;Authentication=Active Directory Service Principal;Tenant Id=t', /a service principal needs its application \(client\) id as the user and its client secret as the password/],
    ['Server=erp;User Id=CORP\\app;Password=Secret1;Authentication=Active Directory Service Principal;Tenant Id=t', /does not take a Windows domain \(CORP\\…\)/],
    ['Server=erp;User Id=app;Password=Secret1;Authentication=Active Directory Managed Identity', /'Active Directory Managed Identity' takes no password/],
    ['Server=erp;User Id=r;Password=Secret1;Tenant Id=t', /keyword 'tenant id': a tenant is only used with Authentication=Active Directory Service Principal/],
    ['mssql://app:Secret1@erp/ERP?authentication=ActiveDirectoryServicePrincipal', /source URL: parameter 'authentication': a service principal needs its directory \(tenant\) id/],
    ['mssql://r:Secret1@erp/ERP?authentication=ntlm', /source URL: parameter 'authentication': 'ntlm' is not supported/],
    ['Server=erp;Password=Secret1;AttachDbFilename=|DataDirectory|\\erp.mdf', /reads a database the server already has attached/],
    ['Database=ERP;Password=Secret1', /connection string: Server \(or Data Source\) is missing/],
    ['Server=(localdb)\\MSSQLLocalDB;Password=Secret1', /LocalDB is not reachable over TCP/],
    ['postgres://r:Secret1@erp/ERP', /not a SQL Server URL: postgres:\/\/r:\*\*\*@erp\/ERP/]
  ]
  for (const [text, message] of cases) {
    const err = failure(text)
    t.match(err, { code: 'SIS_SRC_URL' }, text.replace('Secret1', '…'))
    t.match(err.message, message)
    t.notMatch(err.message, /Secret1/, 'the password never shows')
  }
})

t.test('mssql url – redaction masks the password in both forms', async (t) => {
  t.equal(redactMssqlUrl('mssql://reader:s3cret@erp:1433/ERP'), 'mssql://reader:***@erp:1433/ERP')
  t.equal(redactMssqlUrl('Server=erp;User Id=r;Password=s3cret;Database=ERP'), 'Server=erp;User Id=r;Password=***;Database=ERP')
  t.equal(redactMssqlUrl('Server=erp;PWD="s;3""cret";Database=ERP'), 'Server=erp;PWD=***;Database=ERP')
  t.equal(redactMssqlUrl("Server=erp; password = 'it''s' ;x=1"), 'Server=erp; password = *** ;x=1')
})

t.test('mssql url – pool configuration: read-only intent and TLS always on unless asked', async (t) => {
  const config = mssqlPoolConfig(parseMssqlUrl('Server=erp,1433;Database=ERP;User Id=r;Password=p'), { poolSize: 3, connectTimeoutMs: 5000 })
  t.same(config, {
    server: 'erp',
    port: 1433,
    database: 'ERP',
    user: 'r',
    password: 'p',
    connectionTimeout: 5000,
    requestTimeout: 60_000,
    arrayRowMode: true,
    pool: { max: 3, min: 0, idleTimeoutMillis: 30_000 },
    options: { readOnlyIntent: true, encrypt: true, trustServerCertificate: false, multiSubnetFailover: false, appName: 'sisporta' }
  })
  t.match(mssqlPoolConfig(parseMssqlUrl('mssql://r:p@erp/ERP?instanceName=I&poolMax=5&connectTimeout=100&requestTimeout=200&encrypt=false&hostNameInCertificate=erp.corp'), { poolSize: 3, connectTimeoutMs: 5000 }), {
    connectionTimeout: 100, requestTimeout: 200, pool: { max: 5 }, options: { readOnlyIntent: true, encrypt: false, instanceName: 'I', serverName: 'erp.corp' }
  }, 'the URL wins over the dialect options')
  t.match(mssqlPoolConfig(parseMssqlUrl('Server=erp;User Id=CORP\\r;Password=p'), {}), { user: 'r', domain: 'CORP', connectionTimeout: 60_000, pool: { max: 2 } }, 'default connect timeout: 60 s')
})

// What the driver (tedious) receives: mssql's ConnectionPool turns our config into tedious's
// (`_config()`), and tedious's Connection constructor validates it (it connects only on connect()).
const tedious = createRequire(createRequire(import.meta.url).resolve('mssql'))('tedious') as { Connection: new (config: unknown) => { config: { authentication: unknown, options: Record<string, unknown> } } }

function tediousConfig (url: string): { server: string, authentication: { type: string, options: Record<string, unknown> }, options: Record<string, unknown> } {
  const pool = new mssql.ConnectionPool(mssqlPoolConfig(parseMssqlUrl(url), {})) as unknown as { _config (): ReturnType<typeof tediousConfig> }
  const config = pool._config()
  new tedious.Connection(config) // eslint-disable-line no-new -- throws a TypeError on an option tedious does not accept
  return config
}

t.test('mssql url – the exact tedious configuration of each URL / connection-string form', async (t) => {
  const sql = tediousConfig('Server=erp-db,1433;Database=ERP;User Id=reader;Password=p;Encrypt=True')
  t.same(sql.authentication, { type: 'default', options: { userName: 'reader', password: 'p' } }, 'SQL Server login')
  t.match(sql.options, {
    port: 1433, database: 'ERP', encrypt: true, trustServerCertificate: false, readOnlyIntent: true, multiSubnetFailover: false,
    connectTimeout: 60_000, requestTimeout: 60_000, appName: 'sisporta'
  })
  t.equal(new tedious.Connection(sql).config.options.connectTimeout, 60_000, 'tedious keeps the 60 s connect timeout (its own default is 15 s)')

  const listener = tediousConfig('Server=tcp:erp-listener,1433;Database=ERP;User Id=r;Password=p;MultiSubnetFailover=True;Connect Timeout=90')
  t.match(listener.options, { multiSubnetFailover: true, connectTimeout: 90_000, readOnlyIntent: true }, 'multi-subnet listener, Connect Timeout in seconds')
  t.match(tediousConfig('mssql://r:p@erp-listener/ERP?multiSubnetFailover=true&connectTimeout=120000').options, { multiSubnetFailover: true, connectTimeout: 120_000 })

  t.match(tediousConfig('Server=erp;User Id=r;Password=p;ApplicationIntent=ReadWrite').options, { readOnlyIntent: false }, 'ApplicationIntent=ReadWrite: no read-only intent')
  t.match(tediousConfig('mssql://r:p@erp/ERP?applicationIntent=readwrite').options, { readOnlyIntent: false })
  t.match(tediousConfig('mssql://r:p@erp/ERP?applicationIntent=ReadOnly').options, { readOnlyIntent: true })

  t.same(tediousConfig('Server=erp;User Id=CORP\\svc_sisporta;Password=p').authentication,
    { type: 'ntlm', options: { userName: 'svc_sisporta', password: 'p', domain: 'CORP' } }, 'DOMAIN\\user: NTLM')
  t.same(tediousConfig('mssql://svc_sisporta:p@erp/ERP?domain=corp').authentication,
    { type: 'ntlm', options: { userName: 'svc_sisporta', password: 'p', domain: 'corp' } }, '?domain=: NTLM (tedious upper-cases the domain)')

  const sp = tediousConfig('Server=tcp:erp.database.windows.net,1433;Database=ERP;User Id=0b5e…-app;Password=s3cret;Authentication=Active Directory Service Principal;Tenant Id=72f9…-tenant')
  t.same(sp.authentication, { type: 'azure-active-directory-service-principal-secret', options: { clientId: '0b5e…-app', clientSecret: 's3cret', tenantId: '72f9…-tenant' } }, 'service principal')
  t.same(tediousConfig('mssql://app-id:s3cret@erp.database.windows.net/ERP?authentication=ActiveDirectoryServicePrincipal&tenantId=tenant-id').authentication,
    { type: 'azure-active-directory-service-principal-secret', options: { clientId: 'app-id', clientSecret: 's3cret', tenantId: 'tenant-id' } })
  t.same(tediousConfig('Server=erp.database.windows.net;Database=ERP;Authentication=Active Directory Managed Identity').authentication,
    { type: 'azure-active-directory-msi-vm', options: {} }, 'system-assigned managed identity')
  t.same(tediousConfig('Server=erp.database.windows.net;Database=ERP;User Id=client-id;Authentication=ActiveDirectoryMSI').authentication,
    { type: 'azure-active-directory-msi-vm', options: { clientId: 'client-id' } }, 'user-assigned managed identity')
  t.same(tediousConfig('mssql://erp.database.windows.net/ERP?authentication=Active%20Directory%20Default').authentication,
    { type: 'azure-active-directory-default', options: {} }, 'DefaultAzureCredential (AZURE_* variables, workload or managed identity)')
  t.same(tediousConfig('Server=erp;User Id=r;Password=p;Authentication=SqlPassword').authentication, { type: 'default', options: { userName: 'r', password: 'p' } })
  t.same(tediousConfig('Server=erp;User Id=r;Password=p;Authentication=Sql Password').authentication, { type: 'default', options: { userName: 'r', password: 'p' } })
})

t.test('mssql url – encryption off is refused unless SISPORTA_SOURCE_ALLOW_PLAINTEXT', async (t) => {
  const plaintext = ['Server=erp,1433;User Id=r;Password=Secret1;Encrypt=False', 'Server=erp;User Id=r;Password=Secret1;Encrypt=Optional',
    'Server=erp;User Id=r;Password=Secret1;Encrypt=No', 'Server=erp;User Id=r;Password=Secret1;Encrypt=0', 'mssql://r:Secret1@erp/ERP?encrypt=false']
  for (const url of plaintext) {
    const err = (() => { try { createSourceDialect(url) } catch (e) { return e as Error & { exitCode?: number } } })()
    t.match(err, { name: 'SourceError', code: 'SIS_SRC_PLAINTEXT', exitCode: 2 }, url.replace('Secret1', '…'))
    t.match(err?.message, /turns encryption off .*never start TLS with erp:1433, so the login's password and every row read would cross the network in clear.*TrustServerCertificate=True.*SISPORTA_SOURCE_ALLOW_PLAINTEXT=1/)
    t.notMatch(err?.message, /Secret1/)
  }
  t.throws(() => checkMssqlEncryption(parseMssqlUrl('Server=erp\\ERP2019;Encrypt=False'), false), { code: 'SIS_SRC_PLAINTEXT', message: /never start TLS with erp\\ERP2019,/ }, 'a named instance')
  for (const url of ['Server=erp;Encrypt=True', 'Server=erp;Encrypt=Mandatory', 'Server=erp;Encrypt=Strict', 'Server=erp', 'mssql://r:p@erp/ERP?encrypt=true&trustServerCertificate=true']) {
    t.equal(checkMssqlEncryption(parseMssqlUrl(url), false), false, `${url}: encrypted, accepted`)
  }

  const warnings: unknown[][] = []
  const log = { debug: () => {}, warn: (...args: unknown[]) => { warnings.push(args) } }
  const pool = createMssqlPool('Server=erp;User Id=r;Password=Secret1;Encrypt=False', { log, allowPlaintext: true })
  t.same(warnings, [[{ server: 'erp' }, 'SISPORTA_SOURCE_ALLOW_PLAINTEXT: the SQL Server connection is not encrypted; the password and every row cross the network in clear']], 'allowed: one warning')
  await pool.close()
  const dialect = createSourceDialect('mssql://r:p@erp/ERP?encrypt=false', { log, allowPlaintext: true })
  t.equal(warnings.length, 2, 'one warning per dialect, not per connection')
  await dialect.close()
  createMssqlPool('Server=erp;User Id=r;Password=p', { log, allowPlaintext: true })
  t.equal(warnings.length, 2, 'no warning when TLS is on')
})

t.test('mssql url – createSourceDialect opens SQL Server for mssql://, sqlserver:// and connection strings', async (t) => {
  for (const url of ['mssql://r:p@erp/ERP', 'SQLServer://r:p@erp/ERP', 'Server=erp,1433;Database=ERP;User Id=r;Password=p;']) {
    const dialect = createSourceDialect(url)
    t.ok(dialect instanceof MssqlDialect, url)
    t.equal(dialect.engine, 'mssql')
    await dialect.close()
  }
  const err = (() => { try { createSourceDialect('Database=ERP;User Id=r;Password=Secret1') } catch (e) { return e as Error } })()
  t.match(err, { code: 'SIS_SRC_URL', message: /Server \(or Data Source\) is missing/ })
  t.notMatch(err!.message, /Secret1/)
})
