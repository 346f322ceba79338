import t from 'tap'
import { MssqlDialect, createSourceDialect } from '../src/index.js'
import { mssqlPoolConfig } from '../src/mssql/mssql-driver.js'
import { isMssqlConnectionString, parseMssqlUrl, redactMssqlUrl } from '../src/mssql/mssql-url.js'

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
    server: 'erp-db', port: 1433, database: 'ERP', user: 'sisporta_reader', password: 'p', encrypt: true, trustServerCertificate: false, multiSubnetFailover: false
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
    ['mssql://r:Secret1@erp/ERP?applicationIntent=ReadWrite', /parameter 'applicationIntent': sisporta always connects with ApplicationIntent=ReadOnly, got 'ReadWrite'/],
    ['mssql://r:Secret1@erp/ERP?poolMax=2&poolmax=3', /parameter 'poolmax' is given twice/],
    ['mssql://r:Secret1@erp/a/b', /the path must be just the database name/],
    ['mssql://r:Secret1@erp\\INST/ERP', /not a valid URL: mssql:\/\/r:\*\*\*@.*name an instance with \?instanceName=/],
    ['Server=erp;User Id=r;Password=Secret1;Encrypt=perhaps', /connection string: keyword 'encrypt' must be true, false or strict, got 'perhaps'/],
    ['Server=erp;User Id=r;Password=Secret1;Connect Timeout=0', /keyword 'connect timeout' must be a whole number from 1 to 3600 seconds, got '0'/],
    ['Server=erp,99999;Password=Secret1', /the port must be a whole number from 1 to 65535, got '99999'/],
    ['Server=erp;Password=Secret1;Colour=blue', /unknown keyword 'colour'/],
    ['Server=erp;Password=Secret1;Integrated Security=SSPI', /Windows integrated security .* User Id=DOMAIN\\user and Password \(NTLM\)/],
    ['Server=np:\\\\erp\\pipe\\sql\\query;Password=Secret1', /only TCP connections are supported, not 'np:'/],
    ['Server=erp;Password=Secret1;ApplicationIntent=ReadWrite', /ApplicationIntent=ReadOnly, got 'ReadWrite'/],
    ['Server=erp;Password=Secret1;Authentication=Active Directory Integrated', /only SqlPassword is supported/],
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
  t.match(mssqlPoolConfig(parseMssqlUrl('Server=erp;User Id=CORP\\r;Password=p'), {}), { user: 'r', domain: 'CORP', connectionTimeout: 10_000, pool: { max: 2 } })
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
