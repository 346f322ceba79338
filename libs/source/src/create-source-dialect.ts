import { SourceError } from './errors.js'
import { createMssqlDialect } from './mssql/mssql-dialect.js'
import { isMssqlConnectionString } from './mssql/mssql-url.js'
import { createMysqlDialect } from './mysql/mysql-dialect.js'
import { redact } from './mysql/mysql-driver.js'
import { createPostgresDialect } from './postgres/postgres-dialect.js'
import type { SourceDialect, SourceDialectOptions } from './source-dialect.js'

type DialectFactory = (url: string, options: SourceDialectOptions) => SourceDialect

/** One line per URL scheme: adding an engine is adding its factory here. */
const DIALECTS: Readonly<Record<string, DialectFactory>> = {
  'mysql:': createMysqlDialect,
  'mariadb:': createMysqlDialect,
  'mssql:': createMssqlDialect,
  'sqlserver:': createMssqlDialect,
  'postgres:': createPostgresDialect,
  'postgresql:': createPostgresDialect
}

/**
 * Opens the read-only source named by `SISPORTA_SOURCE_URL`, choosing the dialect by the URL's
 * scheme. Connections open lazily: a wrong host or password shows on the first `describe`.
 *
 * @example
 * const source = createSourceDialect('mariadb://reader:secret@erp.local:3306/erp', { poolSize: 2 })
 * await source.describe(stream)
 */
export function createSourceDialect (url: string, options: SourceDialectOptions = {}): SourceDialect {
  // an ADO.NET connection string (Server=…;Database=…), as SQL Server admins have it, has no scheme
  if (isMssqlConnectionString(url)) return createMssqlDialect(url, options)
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(url)?.[1]?.toLowerCase()
  if (scheme === undefined) {
    throw new SourceError('SIS_SRC_URL', `the source URL must start with a scheme such as mysql:// (got ${redact(url)})`)
  }
  const factory = Object.hasOwn(DIALECTS, scheme) ? DIALECTS[scheme] : undefined
  if (factory === undefined) {
    throw new SourceError('SIS_SRC_UNSUPPORTED', `source URL scheme '${scheme}//' is not supported; use mssql:// (or a Server=…;Database=… connection string), postgres://, mysql:// or mariadb://`)
  }
  return factory(url, options)
}
