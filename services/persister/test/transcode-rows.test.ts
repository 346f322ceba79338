import t from 'tap'
import { parseConfig } from '@sisporta/config'
import { createBatchChecker, scanJsonValue } from '@sisporta/contracts'
import { createDb, migrate } from '@sisporta/db'
import { testDatabase } from '@sisporta/testkit'
import { applyBatch } from '../src/index.js'
import { withRawJson } from '../src/raw-json.js'
import { renderRows, type RenderedRows } from '../src/render-rows.js'
import { createRowTranscoder } from '../src/transcode-rows.js'

// Every column type the transcoder renders itself, with the limits the batch check enforces.
const config = parseConfig(`
streams:
  - name: wide
    source: { table: erp.wide }
    target: { table: wide, key: [id, code] }
    deletes: hard
    columns:
      - { name: id, from: id, type: int }
      - { name: code, from: code, type: string, length: 6 }
      - { name: text, from: text, type: string }
      - { name: short, from: short, type: string, length: 3, nullable: true }
      - { name: big, from: big, type: bigint }
      - { name: amount, from: amount, type: decimal, precision: 6, scale: 2 }
      - { name: wide_amount, from: wide_amount, type: decimal }
      - { name: ratio, from: ratio, type: float }
      - { name: active, from: active, type: bool, nullable: false }
      - { name: born, from: born, type: date }
      - { name: changed, from: changed, type: datetime }
      - { name: guid, from: guid, type: uuid }
      - { name: doc, from: doc, type: json }
      - { name: whole, from: whole, type: datetime, precision: 0 }
      - { name: milli, from: milli, type: datetime, precision: 3 }
`, 'transcode-test.yaml', {})
const wide = config.stream('wide')!
const COLUMNS = wide.columns.map((c) => c.name)
const check = createBatchChecker(wide)
const transcode = createRowTranscoder(wide)

/** JSON text put into a body as it is: a json value as the extractor wrote it (spacing, spelling, duplicate keys). */
class RawText {
  readonly text: string
  constructor (text: string) { this.text = text }
}

/** `n` arrays inside one another around `inner`. */
function nested (n: number, inner = '1'): string {
  return '['.repeat(n) + inner + ']'.repeat(n)
}

// json values MariaDB takes (stored byte for byte), and values it refuses (so must the persister)
const JSON_ACCEPTED = ['1e400', '-1E-400', '12345678901234567890123', '0.1000000000000000000001', '{"a":1,"a":2}', '{ "b" : [ 1 ,\t2 ] ,\n "a" : null }',
  '[]', '{}', '"é😀 \\u00e9 \\ud83d\\ude80"', 'true', 'false', '-0', '"O\'Brien \\\\ \\" --"', '"\\u0000\\u001a\\\\\'"', nested(31), nested(30, '{}'), '{"":{"\\ud83d\\ude80":[]}}']
const JSON_REFUSED = [nested(32), nested(31, '{}'), '"\\ud800"', '{"\\udc00":1}', `{"a":${nested(32)},"a":1}`, '{"a":"\\ud800","a":1}']

/** Random JSON text: random spacing, numbers spelled any way, duplicate keys, tricky strings. */
function randomJsonText (rnd: () => number, level = 1): string {
  const ws = (): string => pick(rnd, ['', '', ' ', '\n ', '\t'])
  if (level > 4 || rnd() < 0.4) {
    return pick(rnd, ['0', '-0.0', '1e400', '123456789012345678901234567890', '3.14E-2', 'true', 'false', 'null', JSON.stringify(text(rnd, 6))])
  }
  const n = Math.floor(rnd() * 4)
  const members = Array.from({ length: n }, () => randomJsonText(rnd, level + 1))
  if (rnd() < 0.5) return `[${ws()}${members.join(`${ws()},${ws()}`)}${ws()}]`
  const key = (): string => JSON.stringify(pick(rnd, ['a', 'b', 'a', '', 'é', text(rnd, 3)]))
  return `{${ws()}${members.map((m) => `${key()}${ws()}:${ws()}${m}`).join(`${ws()},${ws()}`)}${ws()}}`
}

/** Whether a json text is valid JSON the target takes (the parsed check and the text scan agree to take it). */
function acceptedJson (text: string): boolean {
  const bytes = Buffer.from(text, 'utf8')
  return scanJsonValue(bytes, 0) === bytes.length
}

/** A body with its RawText values parsed: what JSON.parse makes of the serialised body. */
function parsedValue (value: unknown): unknown {
  return value instanceof RawText ? JSON.parse(value.text) as unknown : value
}

/** Printable ASCII, every other character as \uXXXX. */
function printable (s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

/** mulberry32: the same batches on every run. */
function prng (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const TRICKY = ["'", '"', '\\', '\0', '\x1a', '\b', '\t', '\n', '\r', '\f', '\x01', '\x7f', '/', 'ç', 'é', 'ñ', '€', '日', '🚀', '𝄞', '\u2028', '\ufeff', '\ud800', '\udc00', '?', '--', 'NULL', ' ']

function pick<T> (rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)]!
}

function text (rnd: () => number, max: number): string {
  let s = ''
  const n = Math.floor(rnd() * (max + 1))
  for (let i = 0; i < n; i++) s += rnd() < 0.5 ? pick(rnd, TRICKY) : String.fromCharCode(0x20 + Math.floor(rnd() * 0x5f))
  return s
}

function digits (rnd: () => number, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += String(Math.floor(rnd() * 10))
  return s
}

/** A valid value for a column, tricky where the type allows. */
function validValue (rnd: () => number, column: string): unknown {
  for (;;) {
    const v = value(rnd, column)
    if (v instanceof RawText && !acceptedJson(v.text)) continue
    const keys = [['id', 1], ['code', 'k']].filter(([name]) => name !== column)
    if (check({ columns: [column, ...keys.map(([name]) => name as string)], rows: [[parsedValue(v), ...keys.map(([, key]) => key)]] }) === undefined) return v
  }
}

/** A value for a column: sometimes null, of the wrong type, or just over a limit. */
function value (rnd: () => number, column: string): unknown {
  const r = rnd()
  if (r < 0.05) return null
  if (r < 0.08) return pick(rnd, [true, 1.5, '12', [], {}, 'x', -0, 'null'])
  switch (column) {
    case 'id': return pick(rnd, [0, 1, -1, 2147483647, -2147483648, 2147483648, -2147483649, Math.floor(rnd() * 1e9) - 5e8])
    // at and just over the limits, in characters that take 1 to 4 bytes, or 2 when escaped
    case 'code': return rnd() < 0.5 ? text(rnd, 7) : pick(rnd, ['abcdef', 'abcdefg', 'çãoção', 'çãoçãoç', '🚀🚀🚀🚀🚀🚀', '🚀🚀🚀🚀🚀🚀🚀', "''''''", "'''''''", '\n\n\n\n\n\n', '\n\n\n\n\n\n\n'])
    case 'text': return text(rnd, 40)
    case 'short': return rnd() < 0.5 ? text(rnd, 4) : pick(rnd, ['ção', 'çãoo', '日本語', '日本語x', '🚀🚀🚀', '🚀🚀🚀🚀', '\\\\\\', '\\\\\\\\', '\0\0\0', '\0\0\0\0'])
    case 'big': return pick(rnd, ['9223372036854775807', '9223372036854775808', '-9223372036854775808', '-9223372036854775809', '0009', '-0', '', '1.5', digits(rnd, 1 + Math.floor(rnd() * 20))])
    case 'amount': return `${rnd() < 0.2 ? '-' : ''}${digits(rnd, 1 + Math.floor(rnd() * 5))}${rnd() < 0.7 ? '.' + digits(rnd, Math.floor(rnd() * 4)) : ''}`
    case 'wide_amount': return pick(rnd, ['0', '-0.0000000001', '0000000000000000000000000000123.5', `${digits(rnd, 28)}.${digits(rnd, 10)}`, `${digits(rnd, 29)}.1`, '1.', '.5', '+1', '1e5'])
    case 'ratio': return pick(rnd, [0.1, -1.7976931348623157e308, 5e-324, 1e21, 123456789.123, -0, 3, rnd()])
    case 'active': return rnd() < 0.5
    case 'born': return pick(rnd, ['2024-02-29', '2023-02-29', '0001-01-01', '9999-12-31', '0000-01-01', '2024-13-01', '2024-04-31', '2024-1-01', `20${digits(rnd, 2)}-0${1 + Math.floor(rnd() * 9)}-1${Math.floor(rnd() * 10)}`])
    case 'changed': return pick(rnd, ['2024-02-29T23:59:59.123456', '2024-02-29T23:59:59', '2024-02-29T23:59:59.', '2024-02-29T23:59:59.1234567', '2024-02-29T24:00:00', '2024-02-29 23:59:59', '2024-02-29T23:60:00', `2024-01-0${1 + Math.floor(rnd() * 9)}T0${Math.floor(rnd() * 10)}:1${Math.floor(rnd() * 10)}:2${Math.floor(rnd() * 10)}.${digits(rnd, 1 + Math.floor(rnd() * 6))}`])
    case 'guid': return pick(rnd, ['123e4567-e89b-12d3-a456-426614174000', '123E4567-E89B-12D3-A456-426614174000', '123e4567e89b12d3a456426614174000', '00000000-0000-0000-0000-000000000000'])
    case 'doc': return new RawText(rnd() < 0.15 ? pick(rnd, JSON_REFUSED) : rnd() < 0.4 ? pick(rnd, JSON_ACCEPTED) : randomJsonText(rnd))
    // datetimes with fewer fractional digits than the wire's six: only zeros may follow them
    case 'whole': return pick(rnd, ['2024-02-29T23:59:59', '2024-02-29T23:59:59.0', '2024-02-29T23:59:59.000000', '2024-02-29T23:59:59.5', '2024-02-29T23:59:59.000001', '2024-02-29T23:59:59.100000'])
    case 'milli': return pick(rnd, ['2024-02-29T23:59:59', '2024-02-29T23:59:59.1', '2024-02-29T23:59:59.123', '2024-02-29T23:59:59.123000', '2024-02-29T23:59:59.1230', '2024-02-29T23:59:59.1234', '2024-02-29T23:59:59.123001', '2024-02-29T23:59:59.999999'])
  }
  return null
}

/**
 * JSON with spaces, and every non-ASCII character and control character in strings escaped as
 * \uXXXX (with `letters`, the letters a–f too: escaped digits and letters in a uuid or a decimal
 * are valid JSON that only the general path reads).
 */
function escapedJson (value: unknown, letters = false): string {
  if (value instanceof RawText) return value.text
  if (typeof value === 'string') {
    let out = '"'
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i)
      out += c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f || (letters && c >= 0x61 && c <= 0x66) ? '\\u' + c.toString(16).padStart(4, '0') : value[i]
    }
    return out + '"'
  }
  if (Array.isArray(value)) return `[ ${value.map((v) => escapedJson(v, letters)).join(' , ')} ]`
  if (value !== null && typeof value === 'object') {
    return `{ ${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)} : ${escapedJson(v, letters)}`).join(' , ')} }`
  }
  return JSON.stringify(value)
}

/** JSON.stringify, with RawText values written as their text. */
function plainJson (value: unknown): string {
  if (value instanceof RawText) return value.text
  if (Array.isArray(value)) return `[${value.map(plainJson).join(',')}]`
  if (value !== null && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${plainJson(v)}`).join(',')}}`
  return JSON.stringify(value)
}

/**
 * What the persister's general path makes of a payload (decode-batch.ts): JSON.parse, the batch
 * check, json values' text put back (`withRawJson`), `renderRows`. A string when it refuses.
 */
function generalPath (payload: Buffer, loadId: number): RenderedRows | string {
  let body: { columns: string[], rows: unknown[][] }
  try {
    body = JSON.parse(payload.toString('utf8')) as typeof body
  } catch (err) {
    return (err as Error).message
  }
  const problem = check(body)
  if (problem !== undefined) return problem.message
  try {
    return renderRows(wide, withRawJson(wide, payload, body), loadId)
  } catch (err) {
    return (err as Error).message
  }
}

t.test('transcode rows – writes exactly what renderRows writes, and vouches only for batches the check accepts', async (t) => {
  const rnd = prng(20261129)
  let vouched = 0
  let refusedByCheck = 0
  let refusedJson = 0
  let checkedBodies = 0
  const problems: string[] = []
  for (let n = 0; n < 3000; n++) {
    // most rows valid (tricky values), one column of some rows anything
    const rows = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => {
      const row = COLUMNS.map((c) => validValue(rnd, c))
      if (rnd() < 0.3) {
        const c = Math.floor(rnd() * COLUMNS.length)
        row[c] = value(rnd, COLUMNS[c]!)
      }
      return row
    })
    const body = { columns: COLUMNS, rows }
    const loadId = 1 + Math.floor(rnd() * 1e6)
    for (const json of [plainJson(body), escapedJson(body), escapedJson(body, true)]) {
      const payload = Buffer.from(json, 'utf8')
      checkedBodies++
      const fast = transcode(payload, loadId)
      // what the persister's general path makes of these bytes
      const reference = generalPath(payload, loadId)
      if (typeof reference === 'string') {
        refusedByCheck++
        if (/json|JSON/.test(reference)) refusedJson++
        if (fast !== undefined) problems.push(`vouched for a batch the general path refuses (${reference}): ${json}`)
        continue
      }
      if (fast === undefined) {
        // the canonical form (JSON.stringify) of a valid batch must always take the fast path
        if (json === plainJson(body)) problems.push(`did not vouch for a valid canonical batch: ${json}`)
        continue
      }
      vouched++
      const same = fast.length === reference.length && fast.bytes.subarray(0, fast.length).equals(reference.bytes.subarray(0, reference.length))
      if (!same) problems.push(`different SQL for ${json}: fast ${fast.bytes.toString('utf8', 0, fast.length)} ref ${reference.bytes.toString('utf8', 0, reference.length)}`)
      if (fast.rowCount !== rows.length || [...fast.rowEnds].join() !== [...reference.rowEnds].join()) problems.push(`row ends differ for ${json}`)
    }
  }
  // control characters and line separators in a message would garble the TAP output
  t.same(problems.slice(0, 3).map(printable), [], `${problems.length} differences`)
  t.ok(vouched > 500, `vouched for ${vouched} of ${checkedBodies} bodies`)
  t.ok(refusedByCheck > 500, `${refusedByCheck} refused by the check (so the edges were exercised)`)
  t.ok(refusedJson > 50, `${refusedJson} refused for a json value (depth, lone surrogate, hidden behind a duplicate key)`)
})

t.test('transcode rows – leaves every malformed or unusual payload to the general path', async (t) => {
  const good = '{"columns":["id","code","active"],"rows":[[1,"a",true]]}'
  const stream = parseConfig(`
streams:
  - name: s
    source: { table: erp.s }
    target: { table: s, key: [id] }
    columns:
      - { name: id, from: id, type: int }
      - { name: code, from: code, type: string }
      - { name: active, from: active, type: bool }
      - { name: blob, from: blob, type: binary }
      - { name: doc, from: doc, type: json }
`, 's.yaml', {}).stream('s')!
  const tx = createRowTranscoder(stream)
  t.ok(tx(Buffer.from(good), 1), 'the plain shape is vouched for')
  t.ok(tx(Buffer.from(`{"columns":["id","doc"],"rows":[[1,${nested(31)}],[2,{"a":1,"a":2}],[3,1e400]]}`), 1), 'json values the target takes are vouched for')
  t.equal(tx(Buffer.from(' \n{ "columns" : [ "id" , "code" , "active" ] , "rows" : [ [ 1 , "a" , true ] ] }\t'), 1)?.rowCount, 1, 'JSON whitespace anywhere')
  const cases: Record<string, string | Buffer> = {
    'truncated': good.slice(0, -2),
    'trailing garbage': good + 'x',
    'two bodies': good + good,
    'rows first': '{"rows":[[1,"a",true]],"columns":["id","code","active"]}',
    'an extra key': '{"columns":["id","code","active"],"rows":[[1,"a",true]],"x":1}',
    'no rows': '{"columns":["id","code","active"],"rows":[]}',
    'no columns': '{"columns":[],"rows":[[]]}',
    'a short row': '{"columns":["id","code","active"],"rows":[[1,"a"]]}',
    'a long row': '{"columns":["id","code","active"],"rows":[[1,"a",true,1]]}',
    'unknown column': '{"columns":["id","nope","active"],"rows":[[1,"a",true]]}',
    'a column twice': '{"columns":["id","id","active"],"rows":[[1,2,true]]}',
    'key column missing': '{"columns":["code"],"rows":[["a"]]}',
    'escaped column name': '{"columns":["i\\u0064","code","active"],"rows":[[1,"a",true]]}',
    'a binary column': '{"columns":["id","blob"],"rows":[[1,"AA=="]]}',
    'raw control character': '{"columns":["id","code","active"],"rows":[[1,"a\tb",true]]}',
    'bad escape': '{"columns":["id","code","active"],"rows":[[1,"a\\x",true]]}',
    'short \\u escape': '{"columns":["id","code","active"],"rows":[[1,"\\u12",true]]}',
    'lone high surrogate': '{"columns":["id","code","active"],"rows":[[1,"\\ud83d",true]]}',
    'high surrogate then a letter': '{"columns":["id","code","active"],"rows":[[1,"\\ud83dx",true]]}',
    'lone low surrogate': '{"columns":["id","code","active"],"rows":[[1,"\\ude00",true]]}',
    'invalid UTF-8': Buffer.concat([Buffer.from('{"columns":["id","code","active"],"rows":[[1,"'), Buffer.from([0xc3, 0x28]), Buffer.from('",true]]}')]),
    'encoded surrogate (CESU)': Buffer.concat([Buffer.from('{"columns":["id","code","active"],"rows":[[1,"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('",true]]}')]),
    'byte-order mark': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(good)]),
    'int with a fraction': '{"columns":["id","code","active"],"rows":[[1.0,"a",true]]}',
    'int with an exponent': '{"columns":["id","code","active"],"rows":[[1e0,"a",true]]}',
    'int with a leading zero': '{"columns":["id","code","active"],"rows":[[01,"a",true]]}',
    'negative zero': '{"columns":["id","code","active"],"rows":[[-0,"a",true]]}',
    'int as a string': '{"columns":["id","code","active"],"rows":[["1","a",true]]}',
    'bool as a number': '{"columns":["id","code","active"],"rows":[[1,"a",1]]}',
    'truncated literal': '{"columns":["id","code","active"],"rows":[[1,"a",tru]]}',
    'null key': '{"columns":["id","code","active"],"rows":[[null,"a",true]]}',
    'a nested array as a value': '{"columns":["id","code","active"],"rows":[[1,["a"],true]]}',
    'json nested 33 levels': `{"columns":["id","doc"],"rows":[[1,${nested(32)}]]}`,
    'json with a lone surrogate': '{"columns":["id","doc"],"rows":[[1,{"k":"\\ud800"}]]}',
    'json with a lone surrogate in a key': '{"columns":["id","doc"],"rows":[[1,{"\\udfff":1}]]}',
    'json too deep behind a duplicate key': `{"columns":["id","doc"],"rows":[[1,{"a":${nested(32)},"a":1}]]}`,
    'json that is not JSON': '{"columns":["id","doc"],"rows":[[1,[1,]]]}',
    'json with a leading zero': '{"columns":["id","doc"],"rows":[[1,01]]}'
  }
  for (const [name, payload] of Object.entries(cases)) {
    t.equal(tx(typeof payload === 'string' ? Buffer.from(payload) : payload, 1), undefined, name)
  }
})

t.test('transcode rows – values written by the fast path read back exactly from MariaDB', async (t) => {
  const { url, sql } = await testDatabase(t)
  const db = createDb(url, { poolSize: 1 })
  t.teardown(() => db.destroy())
  await migrate(db, config)
  const strings = ["O'Brien; DROP TABLE wide; --", 'back\\slash \\\' \\n', 'NUL\0 Ctrl-Z\x1a BS\b FF\f TAB\t LF\n CR\r DEL\x7f', 'Ação ç é ñ € 日本 🚀 𝄞', '\u2028\u2029\ufeff', '?', '']
  const rows = strings.map((s, i) => [i, `k${i}`, s, 'ção', '-9223372036854775808', '-9999.99', '0.0000000001', 5e-324, i % 2 === 0, '0001-01-01', '9999-12-31T23:59:59.999999', '123e4567-e89b-12d3-a456-426614174000', new RawText(JSON_ACCEPTED[i]!), '2024-02-29T23:59:59.000', '2024-02-29T23:59:59.120000'])
  for (const [label, json] of [['as JSON.stringify writes it', plainJson({ columns: COLUMNS, rows })], ['every character escaped', escapedJson({ columns: COLUMNS, rows })]] as const) {
    await sql.query('DELETE FROM wide')
    const rendered = transcode(Buffer.from(json), 3)
    t.ok(rendered, `vouched for (${label})`)
    if (rendered === undefined) continue
    await applyBatch(db, wide, { loadId: 3, batch: label.length, mode: 'full', rendered })
    const [got] = await sql.query('SELECT * FROM wide ORDER BY id') as unknown as [Record<string, unknown>[]]
    t.same(got.map((r) => r.text), strings, `strings exactly (${label})`)
    const [docs] = await sql.query('SELECT HEX(doc) AS doc FROM wide ORDER BY id') as unknown as [{ doc: string }[]]
    t.same(docs.map((r) => Buffer.from(r.doc, 'hex').toString('utf8')), JSON_ACCEPTED.slice(0, strings.length), `json values byte for byte (${label})`)
    delete got[0]!.doc
    t.same(got[0], { id: 0, code: 'k0', text: strings[0], short: 'ção', big: '-9223372036854775808', amount: '-9999.99', wide_amount: '0.0000000001', ratio: 5e-324, active: 1, born: '0001-01-01', changed: '9999-12-31 23:59:59.999999', guid: '123e4567-e89b-12d3-a456-426614174000', whole: '2024-02-29 23:59:59', milli: '2024-02-29 23:59:59.120', _sisporta_load: '3' }, `every type exactly (${label})`)
  }
})

t.test('transcode rows – json values are stored byte for byte by both paths, as the target\'s JSON_VALID takes them', async (t) => {
  const { url, sql } = await testDatabase(t)
  const db = createDb(url, { poolSize: 1 })
  t.teardown(() => db.destroy())
  await migrate(db, config)
  const columns = ['id', 'code', 'active', 'doc']
  const rows = JSON_ACCEPTED.map((text, i) => [i, `j${i}`, true, new RawText(text)])
  const payload = Buffer.from(plainJson({ columns, rows }), 'utf8')
  const fast = transcode(payload, 5)
  const general = generalPath(payload, 5)
  t.ok(fast, 'the fast path vouches for them')
  t.type(general, 'object', 'the general path takes them')
  if (fast === undefined || typeof general === 'string') return
  t.ok(fast.bytes.subarray(0, fast.length).equals(general.bytes.subarray(0, general.length)), 'the same SQL')
  for (const [label, rendered] of [['fast path', fast], ['general path', general]] as const) {
    await sql.query('DELETE FROM wide')
    await applyBatch(db, wide, { loadId: 5, batch: label.length, mode: 'full', rendered })
    // HEX() on the server: the stored bytes, not what a driver makes of them
    const [got] = await sql.query('SELECT HEX(doc) AS doc, JSON_VALID(doc) AS valid FROM wide ORDER BY id') as unknown as [{ doc: string, valid: number }[]]
    t.same(got.map((r) => Buffer.from(r.doc, 'hex').toString('utf8')), JSON_ACCEPTED, `stored as sent: 1e400, 23 digits, 22 decimals, duplicate keys, spacing (${label})`)
    t.ok(got.every((r) => r.valid === 1), 'and the target holds them valid')
  }
})
