import t from 'tap'
import { parseConfig } from '@sisporta/config'
import { BatchBodySchema, createBatchChecker } from '@sisporta/contracts'
import { typeboxValidatorCompiler } from '../src/typebox-validator.js'
import { startGateway, type Gateway } from './fixture.js'

// The batch route parses bodies read as latin1 (raw-json-parser.ts); these tests hold its
// replies to what the exact parse (UTF-8 text) gives: same status, code and message, and
// an accepted body stored byte for byte.

const CONFIG = parseConfig(`
streams:
  - name: items
    source: { table: dbo.Itens }
    target: { table: items, key: [id] }
    columns:
      - { name: id, from: Id, type: bigint }
      - { name: code, from: Codigo, type: string, length: 3 }
      - { name: label, from: Rotulo, type: string }
      - { name: price, from: Preco, type: decimal, precision: 12, scale: 2 }
      - { name: day, from: Dia, type: date }
      - { name: doc, from: Doc, type: json }
`, 'text.yaml', {})

interface Verdict { statusCode: number, code?: string, message?: string }

const exactText = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const checkSchema = typeboxValidatorCompiler({ schema: BatchBodySchema, httpPart: 'body', method: 'POST', url: '/' }) as (data: unknown) => true | { error: Error }
const checkBatch = createBatchChecker(CONFIG.streams[0]!)

/** The reference verdict: the body decoded as UTF-8 text, parsed, schema-checked and batch-checked. */
function exactVerdict (bytes: Buffer): Verdict {
  const malformed = (message: string): Verdict => ({ statusCode: 400, code: 'SIS_GW_MALFORMED_JSON', message })
  let text: string
  try { text = exactText.decode(bytes) } catch { return malformed('the body is not valid UTF-8') }
  if (text.charCodeAt(0) === 0xfeff) return malformed('the body starts with a byte-order mark; send JSON without one')
  let body: unknown
  try { body = JSON.parse(text) } catch (err) { return malformed(`the body is not valid JSON: ${(err as Error).message}`) }
  const schema = checkSchema(body)
  if (schema !== true) return { statusCode: 400, code: 'SIS_GW_INVALID_REQUEST', message: schema.error.message }
  const problem = checkBatch(body as { columns: string[], rows: unknown[][] })
  if (problem !== undefined) return { statusCode: 400, code: 'SIS_GW_BATCH_INVALID', message: `batch 0: ${problem.message}` }
  return { statusCode: 202 }
}

async function verdictOf (gw: Gateway, loadId: number, batch: number, bytes: Buffer): Promise<Verdict> {
  const res = await gw.app.inject({
    method: 'POST',
    url: `/v1/streams/items/loads/${loadId}/batches/${batch}`,
    headers: { 'content-type': 'application/json', ...gw.auth() },
    payload: bytes
  })
  if (res.statusCode === 202) return { statusCode: 202 }
  const { code, message } = res.json() as { code: string, message: string }
  return { statusCode: res.statusCode, code, message: message.replace(/^batch \d+: /, 'batch 0: ') }
}

/** A body of one row `[1, <code>, <label>]`, each given as JSON source text. */
function row (code: string, label = '"x"'): Buffer {
  return Buffer.from(`{"columns":["id","code","label"],"rows":[["1",${code},${label}]]}`, 'utf8')
}

/** A body whose `label` is `a`, these bytes, `b`. */
function labelBytes (...bytes: number[]): Buffer {
  return Buffer.concat([Buffer.from('{"columns":["id","code","label"],"rows":[["1","x","a'), Buffer.from(bytes), Buffer.from('b"]]}')])
}

const LONG = (n: number): string => `longer than ${n} characters`
const LONE = 'string is not well-formed Unicode (lone surrogate)'

// [what, body, expected: 'accepted' or the end of the refusal's message]
const CASES: [string, Buffer, string][] = [
  ['accents and emoji', row('"ção"', '"Açúcar ☕ São Paulo 😀 日本"'), 'accepted'],
  ['3 characters of 5 bytes at a length of 3', row('"ção"'), 'accepted'],
  ['4 characters of 6 bytes over a length of 3', row('"çãoo"'), `row 0, column 'code' (string): ${LONG(3)}`],
  ['3 emoji (12 bytes) at a length of 3', row('"😀😀😀"'), 'accepted'],
  ['4 emoji over a length of 3', row('"😀😀😀😀"'), `row 0, column 'code' (string): ${LONG(3)}`],
  ['\\u00e9 escapes at the limit', row('"\\u00e9\\u00e9\\u00e9"'), 'accepted'],
  ['\\u00e9 escapes over the limit', row('"\\u00e9\\u00e9\\u00e9\\u00e9"'), `row 0, column 'code' (string): ${LONG(3)}`],
  ['escapes of U+0080–U+00BF (UTF-8 continuation bytes when read as latin1) over the limit', row('"\\u00a9\\u0080\\u00bf\\u00a9"'), `row 0, column 'code' (string): ${LONG(3)}`],
  ['escaped pair, raw and escaped accents mixed, 3 characters', row('"a\\ud83d\\ude00é"'), 'accepted'],
  ['escaped pair, raw and escaped accents mixed, 4 characters', row('"\\u00e9\\ud83d\\ude00é😀"'), `row 0, column 'code' (string): ${LONG(3)}`],
  ['an escaped surrogate pair', row('"x"', '"\\ud83d\\ude00"'), 'accepted'],
  ['a lone escaped high surrogate', row('"x"', '"\\ud800"'), `row 0, column 'label' (string): ${LONE}`],
  ['a lone escaped low surrogate after raw text', row('"x"', '"é\\udc00"'), `row 0, column 'label' (string): ${LONE}`],
  ['an escaped high surrogate before a raw emoji', row('"x"', '"\\ud83d😀"'), `row 0, column 'label' (string): ${LONE}`],
  ['an escaped low surrogate after a raw emoji', row('"x"', '"😀\\ude00"'), `row 0, column 'label' (string): ${LONE}`],
  ['a lone surrogate in a string over its limit', row('"ção\\ud800"'), `row 0, column 'code' (string): ${LONE}`],
  ['an escaped backslash before a u', row('"\\\\u"', '"C:\\\\users\\\\ção"'), 'accepted'],
  ['escaped control characters', row('"\\u0001\\t"', '"\\u0000é\\u001f"'), 'accepted'],
  ['a raw control character after accents', row('"x"', '"ção\u0001"'), 'the body is not valid JSON'],
  ['a raw tab in a string', row('"x"', '"a\tb"'), 'the body is not valid JSON'],
  // invalid bytes inside a string column without a limit: only the UTF-8 check can refuse them
  ['invalid byte 0xff', labelBytes(0xff), 'the body is not valid UTF-8'],
  ['a truncated sequence', labelBytes(0xc3), 'the body is not valid UTF-8'],
  ['an overlong encoding', labelBytes(0xc0, 0xaf), 'the body is not valid UTF-8'],
  ['an encoded surrogate', labelBytes(0xed, 0xa0, 0x80), 'the body is not valid UTF-8'],
  ['a code point above U+10FFFF', labelBytes(0xf4, 0x90, 0x80, 0x80), 'the body is not valid UTF-8'],
  ['invalid bytes in a bigint', Buffer.from([...Buffer.from('{"columns":["id"],"rows":[["1'), 0xff, ...Buffer.from('"]]}')]), 'the body is not valid UTF-8'],
  ['a byte-order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), row('"x"')]), 'the body starts with a byte-order mark; send JSON without one'],
  ['a non-ASCII column name', Buffer.from('{"columns":["id","código"],"rows":[["1","x"]]}'), 'unknown column \'código\' for stream \'items\''],
  ['an escaped column name equal to a configured one', Buffer.from('{"columns":["id","\\u0063ode"],"rows":[["1","ção"]]}'), 'accepted'],
  ['a column name of 100 accents (200 bytes, under the 128 limit)', Buffer.from(`{"columns":["id","${'é'.repeat(100)}"],"rows":[["1","x"]]}`), `unknown column '${'é'.repeat(100)}' for stream 'items'`],
  ['a column name of 129 accents', Buffer.from(`{"columns":["id","${'é'.repeat(129)}"],"rows":[["1","x"]]}`), 'body/columns/1: Expected string length less or equal to 128'],
  ['a non-ASCII key', Buffer.from('{"columns":["id"],"rows":[["1"]],"açúcar":1}'), 'açúcar'],
  ['a long accented decimal (message truncated at 40 characters)', Buffer.from(`{"columns":["id","price"],"rows":[["1","${'ção'.repeat(20)}"]]}`), `row 0, column 'price' (decimal): '${'ção'.repeat(20).slice(0, 40)}…' is not a decimal (expected -?digits[.digits])`],
  ['fullwidth digits in a decimal', Buffer.from('{"columns":["id","price"],"rows":[["1","１２"]]}'), 'row 0, column \'price\' (decimal): \'１２\' is not a decimal (expected -?digits[.digits])'],
  ['an accented date', Buffer.from('{"columns":["id","day"],"rows":[["1","2024-0é-01"]]}'), 'row 0, column \'day\' (date): \'2024-0é-01\' is not a date \'YYYY-MM-DD\''],
  ['an accented bigint key', Buffer.from('{"columns":["id"],"rows":[["1é"]]}'), 'row 0, column \'id\' (bigint): expected a string of digits (bigint), got string \'1é\''],
  ['a json value whose keys collide only as bytes', Buffer.from('{"columns":["id","doc"],"rows":[["1",{"é":1,"\\u00c3\\u00a9":2}]]}'), 'accepted']
]

t.test('batch text – the latin1 fast path gives the exact parse\'s verdict and message, case by case', async (t) => {
  const gw = await startGateway(t, { config: CONFIG })
  const load = await gw.openLoad('items')
  let batch = 0
  for (const [what, bytes, expected] of CASES) {
    const got = await verdictOf(gw, load.id, batch, bytes)
    t.same(got, exactVerdict(bytes), `${what}: as the exact parse`)
    if (expected === 'accepted') {
      t.equal(got.statusCode, 202, `${what}: accepted (${got.message ?? ''})`)
      const msg = await gw.jsm.streams.getMessage(gw.names.batchStream, { last_by_subj: gw.names.batchSubject('items') })
      t.ok(Buffer.from(msg.data).equals(bytes), `${what}: stored byte for byte`)
      batch++
    } else {
      t.equal(got.statusCode, 400, what)
      t.ok(got.message?.includes(expected), `${what}: '${got.message}' says '${expected}'`)
    }
  }
  t.equal(await gw.messageCount(), batch, 'only the accepted batches were published')
})

t.test('batch text – a big accented batch is accepted exactly when its every string fits', async (t) => {
  const gw = await startGateway(t, { config: CONFIG })
  const load = await gw.openLoad('items')
  const rows = Array.from({ length: 500 }, (_, i) => [String(i + 1), ['ção', 'açú', '😀é', 'abc'][i % 4], `Observação nº ${i}: coração, ônibus 🚌`, `${i}.5`, '2024-02-29', { nota: 'técnica' }])
  const body = (r: unknown[][]): Buffer => Buffer.from(JSON.stringify({ columns: ['id', 'code', 'label', 'price', 'day', 'doc'], rows: r }))
  const fits = body(rows)
  t.same(await verdictOf(gw, load.id, 0, fits), { statusCode: 202 })
  const last = rows.map((r, i) => i === 499 ? [r[0], 'açúc', ...r.slice(2)] : r)
  const over = await verdictOf(gw, load.id, 1, body(last))
  t.same(over, exactVerdict(body(last)))
  t.same(over, { statusCode: 400, code: 'SIS_GW_BATCH_INVALID', message: `batch 0: row 499, column 'code' (string): ${LONG(3)}` })
  t.equal(await gw.messageCount(), 1)
})
