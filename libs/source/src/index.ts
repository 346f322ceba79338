export type {
  KeyValues, SourceColumnDescription, SourceDescription, SourceDialect, SourceDialectOptions, SourceLogger, ValuesChanged, WireRow
} from './source-dialect.js'
export { createSourceDialect } from './create-source-dialect.js'
export { streamPages, type StreamPagesOptions } from './stream-pages.js'
export { keyColumnIndexes, keyOf, compareKeys, checkKeyAdvances } from './stream-keys.js'
export {
  SOURCE_ERROR_CODES, SourceError, isSourceError, isTransientSourceError,
  type SourceErrorCode, type SourceErrorOptions
} from './errors.js'
export { MysqlDialect, createMysqlDialect } from './mysql/mysql-dialect.js'
export { MYSQL_VALUE_OPTIONS, type MysqlConnectionLike, type MysqlFieldLike, type MysqlPoolLike } from './mysql/mysql-driver.js'
export { MssqlDialect, createMssqlDialect, type MssqlDialectOptions } from './mssql/mssql-dialect.js'
export type { MssqlColumnMetadataLike, MssqlPoolLike, MssqlRequestLike, MssqlResultLike } from './mssql/mssql-driver.js'
export { PostgresDialect, createPostgresDialect } from './postgres/postgres-dialect.js'
export { POSTGRES_VALUE_OPTIONS, type PostgresClientLike, type PostgresFieldLike, type PostgresPoolLike, type PostgresResultLike } from './postgres/postgres-driver.js'
