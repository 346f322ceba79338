/**
 * The engines with a local server, for tests that run one body per engine (`for (const engine of
 * ENGINES)`, as Kysely's tests do), and the `Order Lines` table those bodies read.
 */
import { createSourceDialect, type SourceDialect } from '../src/index.js'
import { createPostgresSourceDatabase } from './fixtures-pg.js'
import { createSourceDatabase, stream } from './fixtures.js'

type Teardown = { teardown (fn: () => unknown): void }

export interface EngineDatabase {
  readonly url: string
  /** Runs set-up SQL (DDL, literal inserts) as the test's admin. */
  exec (sql: string): Promise<void>
}

export interface Engine {
  readonly name: string
  /** Quotes an identifier as the engine does. */
  q (name: string): string
  database (t: Teardown): Promise<EngineDatabase>
  /** How describe errors name a table of the test database (a pattern). */
  tablePattern (table: string): string
  /** The default schema of an unqualified name in the test database (a pattern): MySQL's is the database. */
  readonly defaultSchema: string
  /** The catalogue's types of `Order Lines`' columns, as describe reports them. */
  readonly orderLinesTypes: { readonly doc: string, readonly line: string, readonly qty: string, readonly note: string }
  /** Source types of the `even_lines` query's result columns (document, line_no, twice). */
  readonly evenLinesTypes: readonly string[]
  /** How the driver's error for `SELEC doc FROM x` reads (a pattern). */
  readonly syntaxError: string
}

export const ENGINES: readonly Engine[] = [
  {
    name: 'postgres',
    q: (name) => `"${name}"`,
    async database (t) {
      const db = await createPostgresSourceDatabase(t)
      return { url: db.url, exec: async (sql) => { await db.admin.query(sql) } }
    },
    tablePattern: (table) => `"public"\\."${table}"`,
    defaultSchema: 'public',
    orderLinesTypes: { doc: 'character varying(20)', line: 'integer', qty: 'numeric(12,3)', note: 'character varying(40)' },
    evenLinesTypes: ['character varying(20)', 'integer', 'numeric'],
    syntaxError: 'syntax error at or near .* \\(SQLSTATE 42601\\)'
  },
  {
    name: 'mysql',
    q: (name) => `\`${name}\``,
    async database (t) {
      const db = await createSourceDatabase(t)
      return { url: db.url, exec: async (sql) => { await db.admin.query(sql) } }
    },
    tablePattern: (table) => `\`sisporta_src_\\w+\`\\.\`${table}\``,
    defaultSchema: 'sisporta_src_\\w+',
    orderLinesTypes: { doc: 'varchar(20)', line: 'int(11)', qty: 'decimal(12,3)', note: 'varchar(40)' },
    evenLinesTypes: ['varchar(20)', 'int', 'decimal(13,3)'],
    syntaxError: 'ER_PARSE_ERROR'
  }
]

/** The engine named `name`, for tests of one engine only. */
export function engine (name: string): Engine {
  const found = ENGINES.find((e) => e.name === name)
  if (found === undefined) throw new Error(`no engine '${name}'`)
  return found
}

/** A literal for a `RegExp`: `escapePattern('int(11)')` → `'int\\(11\\)'`. */
export function escapePattern (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Rows in `Order Lines`. */
export const ORDER_LINES_ROWS = 2_500

export type OrderLine = [doc: string, line: number, qty: string]

/** The `Order Lines` stream: composite key (document, line_no), source column names in another case. */
export const orderLines = stream({
  name: 'order_lines',
  source: { table: 'Order Lines' },
  key: ['document', 'line_no'],
  columns: [
    { name: 'document', from: 'DOC', type: 'string' },
    { name: 'line_no', from: 'line', type: 'int' },
    { name: 'quantity', from: 'qty', type: 'decimal' }
  ]
})

/**
 * `Order Lines`: composite key (doc, line), 2,500 rows inserted in shuffled order; even lines
 * have the note `why? $1` (placeholders of both engines inside a literal), odd ones `ok`.
 * Returns the rows `orderLines` reads, in key order, and a dialect closed at teardown.
 */
export async function setUpOrderLines (t: Teardown, engine: Engine): Promise<{ db: EngineDatabase, dialect: SourceDialect, expected: OrderLine[] }> {
  const db = await engine.database(t)
  await db.exec(`CREATE TABLE ${engine.q('Order Lines')} (
    doc VARCHAR(20) NOT NULL, line INT NOT NULL, qty DECIMAL(12,3) NOT NULL, note VARCHAR(40),
    PRIMARY KEY (doc, line))`)
  const expected: OrderLine[] = []
  for (let d = 0; d < 125; d++) {
    for (let l = 1; l <= 20; l++) expected.push([`D${String(d).padStart(4, '0')}`, l, `${d}.${String(l).padStart(3, '0')}`])
  }
  const shuffled = [...expected].sort(() => Math.random() - 0.5)
  const rows = shuffled.map(([doc, line, qty]) => `('${doc}', ${line}, ${qty}, '${line % 2 === 0 ? 'why? $1' : 'ok'}')`)
  await db.exec(`INSERT INTO ${engine.q('Order Lines')} (doc, line, qty, note) VALUES ${rows.join(', ')}`)
  const dialect = createSourceDialect(db.url, { poolSize: 2 })
  t.teardown(() => dialect.close())
  return { db, dialect, expected }
}
