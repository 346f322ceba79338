import t from 'tap'
import { sql as ksql } from 'kysely'
import { parseConfig } from '@sisporta/config'
import { createDb, migrate, serverFlavour } from '@sisporta/db'
import { testDatabase } from '@sisporta/testkit'
import { prepareUpsert } from '../src/index.js'
import { withRawJson } from '../src/raw-json.js'
import { renderRows } from '../src/render-rows.js'
import { asciiLiteral, sqlLiteral } from '../src/sql-literal.js'
import { createRowTranscoder } from '../src/transcode-rows.js'

const config = parseConfig(`
streams:
  - name: notes
    source: { table: erp.notes }
    target: { table: notes, key: [id] }
    columns:
      - { name: id, from: id, type: int }
      - { name: label, from: label, type: string }
      - { name: price, from: price, type: decimal }
      - { name: doc, from: doc, type: json }
`, 'literal-test.yaml', {})
const notes = config.stream('notes')!

// gbk reads 丁¿ (E4 B8 81 C2 BF) followed by a backslash (5C) as three characters, the last
// being BF 5C: a backslash escaping the quote after it would be swallowed.
const VALUES = ["丁¿',1),(666,USER(),1)-- ", "'); DROP TABLE notes; --", "\\' OR 1=1 --", 'back\\slash\\', 'NUL \0 Ctrl-Z \x1a', 'Açúcar 😀 日本 𝄞', '']

t.test('sql literal – text is a _utf8mb4 hex literal, formatted values plain ASCII, the statement printable ASCII', async (t) => {
  t.equal(sqlLiteral("O'Brien"), "_utf8mb4 X'4f27427269656e'")
  t.equal(sqlLiteral(''), "_utf8mb4 X''")
  t.equal(sqlLiteral('ç😀'), "_utf8mb4 X'c3a7f09f9880'")
  t.equal(sqlLiteral(Buffer.from([0, 255])), "X'00ff'")
  t.equal(sqlLiteral(null), 'NULL')
  t.equal(sqlLiteral(-0.5), '-0.5')
  t.equal(asciiLiteral('2024-02-29 23:59:59.5'), "'2024-02-29 23:59:59.5'")
  for (const bad of ["1'", '1\\', 'é', '\n']) t.throws(() => asciiLiteral(bad), { code: 'SIS_PERSIST_BAD_VALUE' }, JSON.stringify(bad))
  const rendered = renderRows(notes, { columns: ['id', 'label', 'price', 'doc'], rows: VALUES.map((v, i) => [i, v, '1.5', { v }]) }, 9)
  t.match(rendered.bytes.toString('latin1', 0, rendered.length), /^[\x20-\x7e]*$/, 'no byte a character set could read differently')
})

t.test('sql literal – the rendered rows mean the same on a connection in gbk, latin1 or with NO_BACKSLASH_ESCAPES', async (t) => {
  const { url, sql } = await testDatabase(t)
  const db = createDb(url, { poolSize: 1 })
  t.teardown(() => db.destroy())
  await migrate(db, config)
  const upsert = prepareUpsert(db, notes, ['id', 'label', 'price', 'doc'], await serverFlavour(db))
  const body = `{"columns":["id","label","price","doc"],"rows":[${VALUES.map((v, i) => `[${i},${JSON.stringify(v)},"1.5",{"v":${JSON.stringify(v)},"n":1e400}]`).join(',')}]}`
  const fast = createRowTranscoder(notes)(Buffer.from(body), 9)
  t.ok(fast, 'the transcoder vouches for the batch')
  const general = renderRows(notes, withRawJson(notes, Buffer.from(body), JSON.parse(body) as { columns: string[], rows: unknown[][] }), 9)
  const sessions = ['SET NAMES gbk', 'SET NAMES latin1', 'SET NAMES big5', "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES'"]
  for (const [session, rendered] of sessions.flatMap((s) => [[`${s} (transcoded)`, fast!], [`${s} (rendered)`, general]] as const)) {
    await sql.query('DELETE FROM notes')
    // a connection whose session is then changed as a hostile server would change it
    const other = createDb(url, { poolSize: 1 })
    await other.connection().execute(async (c) => {
      await ksql.raw(session.replace(/ \(.*$/, '')).execute(c)
      await c.executeQuery(upsert(rendered.bytes.toString('utf8', 0, rendered.length)))
    })
    await other.destroy()
    const [rows] = await sql.query('SELECT id, HEX(label) AS label, HEX(doc) AS doc FROM notes ORDER BY id') as unknown as [{ id: number, label: string, doc: string }[]]
    t.same(rows.map((r) => r.id), VALUES.map((_, i) => i), `${session}: the rows sent, no other`)
    t.same(rows.map((r) => Buffer.from(r.label, 'hex').toString('utf8')), VALUES, `${session}: text byte for byte`)
    t.same(rows.map((r) => Buffer.from(r.doc, 'hex').toString('utf8')), VALUES.map((v) => `{"v":${JSON.stringify(v)},"n":1e400}`), `${session}: json text byte for byte`)
  }
})
