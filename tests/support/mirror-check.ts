import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { createConnection } from 'mysql2/promise'
import { DECIMAL_DEFAULTS, type ColumnMapping, type StreamConfig } from '@sisporta/contracts'
import type { Test } from 'tap'

// The independent oracle of the end-to-end tests: it compares a stream's source with its target
// without any of sisporta's readers, dialects or converters, so a bug there cannot hide itself.
//
// - MariaDB/MySQL source on the target's server: ONE SQL statement per stream joins the source
//   and the target schema on the key and compares every mapped column in the server: text byte
//   for byte (`BINARY a <=> BINARY b`, both read as utf8mb4), decimals as DECIMAL, datetimes to
//   the microsecond, JSON as the server's JSON_NORMALIZE, NULL equal only to NULL — in both
//   directions (missing, extra, different) with counts and the first keys of each.
// - PostgreSQL source, or a MariaDB source on another server than the target (a private target
//   server a fault test restarts): `psql` / `mysql` (the command-line clients) print every row of
//   the source, and `mysql` every row of the target, in one canonical text form (text and bytes
//   as hex, decimals without trailing zeros, datetimes with six fractional digits, JSON as
//   MariaDB's JSON_NORMALIZE of the text, doubles as the double they spell); the two dumps are
//   compared byte for byte, row by row by key.
//
// A row soft-deleted by sisporta (`_sisporta_deleted_at` set, `deletes: soft`) is not part of
// the mirror. With `deletes: none`, rows deleted in the source stay in the target and are
// reported as extra: the test states which ones it expects.
//
// Known false alarms (never a false "equal"): a MariaDB source's JSON text with \u escapes of
// printable characters (JSON_NORMALIZE keeps them, sisporta sends the characters themselves).
// Identifiers of a PostgreSQL source are written unquoted (folded to lower case, as the test
// ERPs create them) unless they need quoting.

const exec = promisify(execFile)

/** Where the two sides are. */
export interface MirrorEnds {
  /** The stream's source: `mysql://…/db` / `mariadb://…/db` (on the target's server) or `postgres://…/db`. */
  readonly sourceUrl: string
  /** The target database, `mysql://…/db`. */
  readonly targetUrl: string
  /**
   * A MariaDB source on the target's server is compared by one joining statement; `dumps`
   * compares the clients' dumps instead, as for a source on another server (to test that path).
   */
  readonly via?: 'join' | 'dumps'
}

/** One stream's comparison. Every key is shown as a JSON array of the key columns' text. */
export interface MirrorReport {
  readonly stream: string
  readonly sourceRows: number
  /** Rows of the target table (live ones: soft-deleted rows are not counted). */
  readonly targetRows: number
  /** Source rows whose key is not in the target. */
  readonly missing: number
  /** Target rows whose key is not in the source. */
  readonly extra: number
  /** Rows on both sides with at least one differing column. */
  readonly different: number
  /** The first few (by key) of each kind; `different` names the first differing column of each. */
  readonly examples: {
    readonly missing: readonly string[]
    readonly extra: readonly string[]
    readonly different: readonly { readonly key: string, readonly column: string }[]
  }
  readonly equal: boolean
}

/** How many examples of each kind a report carries. */
export const MIRROR_EXAMPLES = 5

/**
 * Compares one stream's source and target with the databases' own comparison (MariaDB) or
 * their own command-line clients' text (PostgreSQL), never through sisporta's code.
 *
 * @example
 * const report = await checkMirror(config.stream('products')!, { sourceUrl, targetUrl })
 * t.ok(report.equal, describeMirror(report))
 */
export async function checkMirror (stream: StreamConfig, ends: MirrorEnds): Promise<MirrorReport> {
  const scheme = new URL(ends.sourceUrl).protocol
  if (scheme === 'mysql:' || scheme === 'mariadb:') {
    const src = parseMysqlUrl(ends.sourceUrl)
    const tgt = parseMysqlUrl(ends.targetUrl)
    // two servers (a private target server a fault test restarts): the dumps of both clients
    if (ends.via === 'dumps' || src.host !== tgt.host || src.port !== tgt.port) return await checkByDumps(stream, await dumpMysqlSource(stream, src), tgt)
    return await checkMysqlSource(stream, src, tgt)
  }
  if (scheme === 'postgres:' || scheme === 'postgresql:') return await checkPostgresSource(stream, ends)
  throw new Error(`mirror check: no independent comparison for a ${scheme} source (stream ${stream.name})`)
}

/** One line for an assertion message: the counts and the first keys of each difference. */
export function describeMirror (r: MirrorReport): string {
  const parts = [`${r.sourceRows} source rows, ${r.targetRows} target rows`]
  if (r.missing > 0) parts.push(`${r.missing} missing in target (${r.examples.missing.join(' ')})`)
  if (r.extra > 0) parts.push(`${r.extra} extra in target (${r.examples.extra.join(' ')})`)
  if (r.different > 0) parts.push(`${r.different} different (${r.examples.different.map((d) => `${d.key} ${d.column}`).join(', ')})`)
  return `${r.stream}: ${parts.join('; ')}`
}

/**
 * One assertion per stream: the target equals the source, every row and every mapped column.
 * Fails on an empty source too (an empty mirror proves nothing) unless `allowEmpty`.
 *
 * @example
 * await expectMirror(t, config.streams, { sourceUrl, targetUrl })
 */
export async function expectMirror (t: Test, streams: readonly StreamConfig[], ends: MirrorEnds, options: { allowEmpty?: boolean } = {}): Promise<MirrorReport[]> {
  const reports: MirrorReport[] = []
  for (const stream of streams) {
    const report = await checkMirror(stream, ends)
    reports.push(report)
    const empty = report.sourceRows === 0 && options.allowEmpty !== true
    t.ok(report.equal && !empty, `mirror check – ${describeMirror(report)}${report.equal ? (empty ? ': the source is empty, nothing was compared' : ': identical') : ''}`, { examples: report.examples })
  }
  return reports
}

// ---------------------------------------------------------------------------------------------
// MariaDB / MySQL source: one statement joining both schemas

const F_DATETIME = "'%Y-%m-%d %H:%i:%s.%f'"

const bq = (name: string): string => `\`${name.replaceAll('`', '``')}\``

interface Database {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
}

function parseMysqlUrl (url: string): Database {
  const u = new URL(url)
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''))
  if (database === '') throw new Error(`mirror check: ${u.protocol}//${u.host} names no database`)
  return { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username || 'root'), password: decodeURIComponent(u.password), database }
}

/** `db.table` or `table` (in the source database) → quoted schema and table. */
function mysqlSourceTable (table: string, database: string): { schema: string, table: string } {
  const parts = table.split('.')
  return parts.length >= 2 ? { schema: parts.at(-2)!, table: parts.at(-1)! } : { schema: database, table: parts[0]! }
}

interface KeyCollation { charset: string | null, collation: string | null }

async function keyCollations (sql: Awaited<ReturnType<typeof createConnection>>, schema: string, table: string): Promise<Map<string, KeyCollation>> {
  const [rows] = await sql.query('SELECT COLUMN_NAME AS c, CHARACTER_SET_NAME AS cs, COLLATION_NAME AS co FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [schema, table]) as unknown as [{ c: string, cs: string | null, co: string | null }[]]
  return new Map(rows.map((r) => [r.c.toLowerCase(), { charset: r.cs, collation: r.co }]))
}

const utf8 = (x: string): string => `CONVERT(${x} USING utf8mb4)`
const bytes = (x: string): string => `CAST(${x} AS BINARY)`

/** The decimal both sides are cast to: every declared digit, the scale as wide as MariaDB allows. */
function decimalCast (c: ColumnMapping): string {
  const precision = c.precision ?? DECIMAL_DEFAULTS.precision
  const scale = c.scale ?? DECIMAL_DEFAULTS.scale
  return `DECIMAL(65, ${Math.min(30, 65 - (precision - scale))})`
}

/** A NULL-safe, never-NULL equality of one mapped column, in the server. */
function mysqlEquals (c: ColumnMapping, s: string, t: string): string {
  switch (c.type) {
    case 'string': return `${bytes(utf8(s))} <=> ${bytes(utf8(t))}`
    case 'uuid': return `${bytes(`LOWER(${utf8(s)})`)} <=> ${bytes(utf8(t))}`
    case 'binary': return `${bytes(s)} <=> ${bytes(t)}`
    case 'decimal': return `CAST(${s} AS ${decimalCast(c)}) <=> CAST(${t} AS ${decimalCast(c)})`
    case 'datetime': return `${bytes(`DATE_FORMAT(${s}, ${F_DATETIME})`)} <=> ${bytes(`DATE_FORMAT(${t}, ${F_DATETIME})`)}`
    // the target holds exactly 0 or 1; the source any integer, true when not 0
    case 'bool': return `(${s} <> 0) <=> ${t}`
    // JSON as values (key order, number spelling), invalid JSON never equal to anything
    case 'json': return `${bytes(`IF(${s} IS NULL, NULL, COALESCE(JSON_NORMALIZE(${s}), 'invalid JSON in source'))`)} <=> ${bytes(`IF(${t} IS NULL, NULL, COALESCE(JSON_NORMALIZE(${t}), 'invalid JSON in target'))`)}`
    // int, bigint: integers; float: doubles, compared exactly; date: as dates (a time part differs)
    default: return `${s} <=> ${t}`
  }
}

/** A key column's text, for the report. */
function mysqlKeyText (c: ColumnMapping, x: string): string {
  switch (c.type) {
    case 'date': return `DATE_FORMAT(${x}, '%Y-%m-%d')`
    case 'datetime': return `DATE_FORMAT(${x}, ${F_DATETIME})`
    case 'uuid': return `LOWER(${utf8(x)})`
    default: return utf8(x)
  }
}

/**
 * The join of a key column from `outer` to `inner`: the exact byte equality, plus (when the
 * inner side's collation is known) the same equality in the inner column's collation, so the
 * server looks rows up by the inner table's key instead of comparing every pair.
 */
function keyJoin (c: ColumnMapping, outer: string, inner: string, innerCollation: KeyCollation | undefined, outerIsSource: boolean): string {
  if (c.type !== 'string' && c.type !== 'uuid') return `${inner} = ${outer}`
  const norm = (x: string, source: boolean): string => c.type === 'uuid' && source ? `LOWER(${utf8(x)})` : utf8(x)
  const exact = `${bytes(norm(outer, outerIsSource))} = ${bytes(norm(inner, !outerIsSource))}`
  if (innerCollation?.charset == null || innerCollation.collation == null) return exact
  return `${inner} = CONVERT(${norm(outer, outerIsSource)} USING ${innerCollation.charset}) COLLATE ${innerCollation.collation} AND ${exact}`
}

async function checkMysqlSource (stream: StreamConfig, src: Database, tgt: Database): Promise<MirrorReport> {
  // the source's credentials: they read the source, and in the tests they read the target too
  const sql = await createConnection({ host: src.host, port: src.port, user: src.user, password: src.password, database: src.database, charset: 'utf8mb4_bin', supportBigNumbers: true, bigNumberStrings: true, jsonStrings: true })
  try {
    await sql.query("SET time_zone = '+00:00'")
    const live = stream.deletes === 'soft' ? `t.${bq('_sisporta_deleted_at')} IS NULL` : 'TRUE'
    const tgtFrom = `${bq(tgt.database)}.${bq(stream.target.table)} AS t`
    let srcFrom: string
    let srcKeys: Map<string, KeyCollation> | undefined
    if (stream.source.table !== undefined) {
      const { schema, table } = mysqlSourceTable(stream.source.table, src.database)
      srcFrom = `${bq(schema)}.${bq(table)} AS s`
      srcKeys = await keyCollations(sql, schema, table)
    } else {
      // a query stream: its result is the source, read in the source database (the default one)
      srcFrom = `(${stream.source.query!}) AS s`
    }
    const tgtKeys = await keyCollations(sql, tgt.database, stream.target.table)
    const keys = stream.target.key.map((k) => stream.columns.find((c) => c.name === k)!)
    const S = (c: ColumnMapping): string => `s.${bq(c.from)}`
    const T = (c: ColumnMapping): string => `t.${bq(c.name)}`
    const toTarget = keys.map((c) => keyJoin(c, S(c), T(c), tgtKeys.get(c.name.toLowerCase()), true)).join(' AND ')
    const toSource = keys.map((c) => keyJoin(c, T(c), S(c), srcKeys?.get(c.from.toLowerCase()), false)).join(' AND ')
    const equal = stream.columns.map((c) => `(${mysqlEquals(c, S(c), T(c))})`)
    const firstDifferent = `CASE ${stream.columns.map((c, i) => `WHEN NOT ${equal[i]!} THEN ${sql.escape(c.name)}`).join(' ')} END`
    const keyText = (side: (c: ColumnMapping) => string): string => `JSON_ARRAY(${keys.map((c) => mysqlKeyText(c, side(c))).join(', ')})`
    const statement = `
      SELECT 'rows' AS kind, (SELECT COUNT(*) FROM ${srcFrom}) AS n, (SELECT COUNT(*) FROM ${tgtFrom} WHERE ${live}) AS m, NULL AS k, NULL AS col
      UNION ALL
      SELECT kind, n, NULL, k, col FROM (
        SELECT kind, k, col, COUNT(*) OVER (PARTITION BY kind) AS n, ROW_NUMBER() OVER (PARTITION BY kind ORDER BY CAST(k AS BINARY)) AS r FROM (
          SELECT IF(t.${bq(keys[0]!.name)} IS NULL, 'missing', 'different') AS kind, ${keyText(S)} AS k,
                 IF(t.${bq(keys[0]!.name)} IS NULL, NULL, ${firstDifferent}) AS col
            FROM ${srcFrom} LEFT JOIN ${tgtFrom} ON ${toTarget} AND ${live}
           WHERE t.${bq(keys[0]!.name)} IS NULL OR NOT (${equal.join(' AND ')})
          UNION ALL
          SELECT 'extra', ${keyText(T)}, NULL
            FROM ${tgtFrom} LEFT JOIN ${srcFrom} ON ${toSource}
           WHERE s.${bq(keys[0]!.from)} IS NULL AND ${live}
        ) AS d
      ) AS x WHERE r <= ${MIRROR_EXAMPLES}`
    const [rows] = await sql.query(statement) as unknown as [{ kind: string, n: string | number, m: string | number | null, k: string | null, col: string | null }[]]
    const counts = rows.find((r) => r.kind === 'rows')!
    const of = (kind: string): typeof rows => rows.filter((r) => r.kind === kind)
    const n = (kind: string): number => Number(of(kind)[0]?.n ?? 0)
    const key = (k: string | null): string => JSON.stringify(JSON.parse(k!))
    return report(stream, Number(counts.n), Number(counts.m), {
      missing: [n('missing'), of('missing').map((r) => key(r.k))],
      extra: [n('extra'), of('extra').map((r) => key(r.k))],
      different: [n('different'), of('different').map((r) => ({ key: key(r.k), column: r.col! }))]
    })
  } finally {
    await sql.end()
  }
}

function report (stream: StreamConfig, sourceRows: number, targetRows: number, found: {
  missing: [number, string[]], extra: [number, string[]], different: [number, { key: string, column: string }[]]
}): MirrorReport {
  const [missing, extra, different] = [found.missing[0], found.extra[0], found.different[0]]
  return {
    stream: stream.name,
    sourceRows,
    targetRows,
    missing,
    extra,
    different,
    examples: { missing: found.missing[1], extra: found.extra[1], different: found.different[1] },
    equal: missing + extra + different === 0
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL source: canonical text from psql and from mysql, compared byte for byte

/** `-` for NULL, `=` and the canonical text otherwise: NULL never equals a value. */
const pgMark = (x: string, canonical: string): string => `CASE WHEN ${x} IS NULL THEN '-' ELSE '=' || ${canonical} END`
const myMark = (x: string, canonical: string): string => `CASE WHEN ${x} IS NULL THEN '-' ELSE CONCAT('=', COALESCE(${canonical}, '!')) END`

/** A PostgreSQL identifier as the demo ERP writes it: unquoted (folded to lower case) when it can be. */
const pgId = (name: string): string => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`

function pgCanonical (c: ColumnMapping, x: string): string {
  switch (c.type) {
    // the text as the server prints it (char(n) padded as stored), as UTF-8 bytes in hex
    case 'string': return `encode(convert_to(concat(${x}), 'UTF8'), 'hex')`
    case 'uuid': return `encode(convert_to(lower(concat(${x})), 'UTF8'), 'hex')`
    case 'binary': return `encode(${x}, 'hex')`
    case 'int': case 'bigint': return `${x}::text`
    case 'decimal': return `trim_scale(${x}::numeric)::text`
    // read back as an IEEE double by the comparison (the two servers spell exponents differently)
    case 'float': return `${x}::float8::text`
    case 'bool': return `CASE WHEN ${x}::boolean THEN '1' ELSE '0' END`
    case 'date': return `to_char(${x}, 'YYYY-MM-DD')`
    // timestamptz: the session is UTC (PGTZ), so the UTC wall clock
    case 'datetime': return `to_char(${x}, 'YYYY-MM-DD HH24:MI:SS.US')`
    // jsonb's text (escapes decoded, duplicate keys merged), normalised by MariaDB below
    case 'json': return `encode(convert_to(${x}::jsonb::text, 'UTF8'), 'hex')`
  }
}

/**
 * The same canonical text, from MariaDB: the target's columns, or a MariaDB source's on another
 * server (where a uuid may be upper case and a bool any integer, as sisporta reads them).
 */
function mysqlCanonical (c: ColumnMapping, x: string, side: 'source' | 'target'): string {
  switch (c.type) {
    case 'string': return `LOWER(HEX(${utf8(x)}))`
    case 'uuid': return side === 'source' ? `LOWER(HEX(LOWER(${utf8(x)})))` : `LOWER(HEX(${utf8(x)}))`
    case 'binary': return `LOWER(HEX(${x}))`
    case 'bool': return side === 'source' ? `IF(${x} <> 0, '1', '0')` : `CAST(${x} AS CHAR)`
    case 'int': case 'bigint': case 'float': return `CAST(${x} AS CHAR)`
    case 'decimal': {
      const text = `CAST(${x} AS CHAR)`
      return `IF(LOCATE('.', ${text}) > 0, TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM ${text})), ${text})`
    }
    case 'date': return `DATE_FORMAT(${x}, '%Y-%m-%d')`
    case 'datetime': return `DATE_FORMAT(${x}, ${F_DATETIME})`
    case 'json': return `LOWER(HEX(JSON_NORMALIZE(${x})))`
  }
}

function mysqlClientArgs (db: Database): { args: string[], env: NodeJS.ProcessEnv } {
  return {
    args: ['--protocol=TCP', `--host=${db.host}`, `--port=${db.port}`, `--user=${db.user}`, '--default-character-set=utf8mb4', '--batch', '--raw', '--skip-column-names', db.database],
    env: { ...process.env, MYSQL_PWD: db.password }
  }
}

/** Runs a script through the `mysql` client, its lines of tab-separated fields. */
async function mysqlClient (db: Database, script: string): Promise<string[][]> {
  const { args, env } = mysqlClientArgs(db)
  const child = execFile('mysql', args, { env, maxBuffer: 1 << 30, encoding: 'utf8' })
  const output = new Promise<string>((resolve, reject) => {
    let out = ''
    let err = ''
    child.stdout!.on('data', (d: string) => { out += d })
    child.stderr!.on('data', (d: string) => { err += d })
    child.on('error', reject)
    child.on('close', (code) => code === 0 ? resolve(out) : reject(new Error(`mysql exited ${code}: ${err.trim()}`)))
  })
  child.stdin!.end(script)
  return lines(await output)
}

async function psqlClient (url: string, query: string): Promise<string[][]> {
  const { stdout } = await exec('psql', ['-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', url, '-c', query], {
    env: { ...process.env, PGCLIENTENCODING: 'UTF8', PGTZ: 'UTC' }, maxBuffer: 1 << 30, encoding: 'utf8'
  })
  return lines(stdout)
}

function lines (text: string): string[][] {
  return text.split('\n').filter((l) => l !== '').map((l) => l.split('\t'))
}

/** The exact double a client printed, in one spelling (`1e+21` and `1e21` are the same double). */
function sameDouble (field: string): string {
  if (!field.startsWith('=')) return field
  const value = Number(field.slice(1))
  return Number.isNaN(value) && field !== '=NaN' ? `${field} (not a number)` : `=${Object.is(value, -0) ? 0 : value}`
}

async function checkPostgresSource (stream: StreamConfig, ends: MirrorEnds): Promise<MirrorReport> {
  const tgt = parseMysqlUrl(ends.targetUrl)
  const from = stream.source.table !== undefined
    ? stream.source.table.split('.').map(pgId).join('.')
    : `(${stream.source.query!}) AS s`
  const pgColumns = stream.columns.map((c) => pgMark(pgId(c.from), pgCanonical(c, pgId(c.from))))
  const source = await psqlClient(ends.sourceUrl, `SELECT ${pgColumns.join(', ')} FROM ${from}`)
  // JSON: jsonb's text of the source normalised by the same server function as the target's
  const jsonColumns = stream.columns.flatMap((c, i) => c.type === 'json' ? [i] : [])
  if (jsonColumns.length > 0) {
    const texts = [...new Set(source.flatMap((row) => jsonColumns.map((i) => row[i]!)).filter((f) => f.startsWith('=')).map((f) => f.slice(1)))]
    const normalised = new Map<string, string>()
    for (let i = 0; i < texts.length; i += 500) {
      const chunk = texts.slice(i, i + 500)
      const rows = await mysqlClient(tgt, `SELECT h, COALESCE(LOWER(HEX(JSON_NORMALIZE(CONVERT(UNHEX(h) USING utf8mb4)))), '!') FROM (${chunk.map((h) => `SELECT '${h}' AS h`).join(' UNION ALL ')}) AS v;\n`)
      for (const [h, n] of rows) normalised.set(h!, n!)
    }
    for (const row of source) for (const i of jsonColumns) if (row[i]!.startsWith('=')) row[i] = `=${normalised.get(row[i]!.slice(1))!}`
  }
  return await checkByDumps(stream, source, tgt)
}

/** A MariaDB source's canonical dump, by the `mysql` client (JSON normalised by its own server). */
async function dumpMysqlSource (stream: StreamConfig, src: Database): Promise<string[][]> {
  const from = stream.source.table !== undefined
    ? (({ schema, table }) => `${bq(schema)}.${bq(table)}`)(mysqlSourceTable(stream.source.table, src.database))
    : `(${stream.source.query!}) AS s`
  const columns = stream.columns.map((c) => myMark(bq(c.from), mysqlCanonical(c, bq(c.from), 'source')))
  return await mysqlClient(src, `SET time_zone = '+00:00';\nSELECT ${columns.join(', ')} FROM ${from};\n`)
}

/** Compares a source's canonical dump with the target's, dumped here by the `mysql` client. */
async function checkByDumps (stream: StreamConfig, source: string[][], tgt: Database): Promise<MirrorReport> {
  const keyIndex = stream.target.key.map((k) => stream.columns.findIndex((c) => c.name === k))
  const live = stream.deletes === 'soft' ? ` WHERE ${bq('_sisporta_deleted_at')} IS NULL` : ''
  const myColumns = stream.columns.map((c) => myMark(bq(c.name), mysqlCanonical(c, bq(c.name), 'target')))
  const target = await mysqlClient(tgt, `SET time_zone = '+00:00';\nSELECT ${myColumns.join(', ')} FROM ${bq(stream.target.table)}${live};\n`)
  const floatColumns = stream.columns.flatMap((c, i) => c.type === 'float' ? [i] : [])
  for (const row of [...source, ...target]) for (const i of floatColumns) row[i] = sameDouble(row[i]!)

  const keyOf = (row: string[]): string => keyIndex.map((i) => row[i]).join('\t')
  const index = (rows: string[][], side: string): Map<string, string[]> => {
    const map = new Map<string, string[]>()
    for (const row of rows) {
      if (row.length !== stream.columns.length) throw new Error(`mirror check (stream ${stream.name}): a ${side} line has ${row.length} fields, not ${stream.columns.length}`)
      const key = keyOf(row)
      if (map.has(key)) throw new Error(`mirror check (stream ${stream.name}): the ${side} holds the key ${display(row)} twice`)
      map.set(key, row)
    }
    return map
  }
  const display = (row: string[]): string => JSON.stringify(keyIndex.map((i) => {
    const c = stream.columns[i]!
    const text = row[i]!.slice(1)
    return c.type === 'string' || c.type === 'uuid' ? Buffer.from(text, 'hex').toString('utf8') : text
  }))
  const a = index(source, 'source')
  const b = index(target, 'target')
  const missing: string[][] = []
  const extra: string[][] = []
  const different: { row: string[], column: string }[] = []
  for (const [key, row] of a) {
    const other = b.get(key)
    if (other === undefined) missing.push(row)
    else {
      const col = row.findIndex((f, i) => f !== other[i])
      if (col >= 0) different.push({ row, column: stream.columns[col]!.name })
    }
  }
  for (const [key, row] of b) if (!a.has(key)) extra.push(row)
  const first = (rows: string[][]): string[] => rows.map(display).sort().slice(0, MIRROR_EXAMPLES)
  return report(stream, a.size, b.size, {
    missing: [missing.length, first(missing)],
    extra: [extra.length, first(extra)],
    different: [different.length, different.map((d) => ({ key: display(d.row), column: d.column })).sort((x, y) => x.key < y.key ? -1 : x.key > y.key ? 1 : 0).slice(0, MIRROR_EXAMPLES)]
  })
}
