import t, { type Test } from 'tap'
import { isUtf8 } from 'node:buffer'
import type { WireRow } from '@sisporta/source'
import { encodeBatches } from '../src/encode-batches.js'

const columns = ['id', 'note', 'n', 'ok']
const describeRow = (row: WireRow): string => JSON.stringify([row[0]])

/** The body a set of rows must be sent as: exactly the JSON text of `{ columns, rows }`, in UTF-8. */
function expected (rows: readonly WireRow[]): Buffer {
  return Buffer.from(JSON.stringify({ columns, rows }), 'utf8')
}

/** Values that are tricky to encode: accents, emoji, escapes, control characters, lone surrogates. */
const TRICKY = [
  'Açúcar ação coração', 'São Paulo — Ímã', '☕ café', '😀 grin 👩‍👩‍👧 family', '𝄞',
  'quote " backslash \\ slash /', 'tab\tnewline\ncr\rbs\bff\f', '\u0000\u0001\u001f\u007f\u0080\u009f',
  '\u2028\u2029', 'lone high \ud800', 'lone low \udfff', 'reversed \udc00\ud800', 'end \ud83d', '\ufeffbom', '',
  'x'.repeat(300)
]

function trickyRows (count: number): WireRow[] {
  return Array.from({ length: count }, (_, i) => [i, TRICKY[i % TRICKY.length]!, i % 3 === 0 ? null : i * 1.5, i % 2 === 0])
}

/** Deterministic pseudo-random numbers (a 32-bit LCG): the fuzz cases are the same on every run. */
function lcg (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

/**
 * Checks bodies against the rows they were cut from: each is exactly the JSON of a run of
 * consecutive rows and within the limit, the runs cover every row once in order, and each body
 * but the last was cut only because the next row would not have fitted.
 */
function checkSplit (t: Test, bodies: Buffer[], rows: readonly WireRow[], maxBytes: number): void {
  let from = 0
  for (const [i, body] of bodies.entries()) {
    const parsed = JSON.parse(body.toString('utf8')) as { rows: unknown[] }
    const run = rows.slice(from, from + parsed.rows.length)
    t.ok(body.equals(expected(run)), `body ${i} is exactly the JSON of rows ${from}..${from + run.length - 1}`)
    t.ok(body.length <= maxBytes, `body ${i}: ${body.length} ≤ ${maxBytes} bytes`)
    t.ok(run.length > 0, `body ${i} has rows`)
    from += run.length
    if (i < bodies.length - 1) {
      t.ok(expected(rows.slice(from - run.length, from + 1)).length > maxBytes, `body ${i} was cut only because row ${from} would not fit`)
    }
  }
  t.equal(from, rows.length, 'every row once, in order')
}

t.test('encode batches – a page that fits is one body, byte for byte the JSON of the page', async (t) => {
  const rows = trickyRows(2000)
  const bodies = encodeBatches(columns, rows, 960_000, describeRow)
  t.equal(bodies.length, 1)
  t.ok(bodies[0]!.equals(expected(rows)), 'same bytes as JSON.stringify({ columns, rows }) in UTF-8')
  t.ok(isUtf8(bodies[0]!), 'valid UTF-8: lone surrogates are escaped, not encoded')
  t.match(bodies[0]!.toString('latin1'), /lone high \\ud800/, 'a lone surrogate is a \\u escape')
  t.same(JSON.parse(bodies[0]!.toString('utf8')), { columns, rows }, 'and parses back to the page')
})

t.test('encode batches – the limit counts UTF-8 bytes, not characters', async (t) => {
  const rows: WireRow[] = [[1, 'ç'.repeat(100), null, true], [2, '😀'.repeat(50), 2, false], [3, '€'.repeat(70), 3.5, true]]
  const exact = expected(rows).length
  t.ok(JSON.stringify({ columns, rows }).length < exact - 200, 'far fewer characters than bytes')
  t.equal(encodeBatches(columns, rows, exact, describeRow).length, 1, 'a body of exactly the limit is one body')
  const cut = encodeBatches(columns, rows, exact - 1, describeRow)
  t.equal(cut.length, 2, 'one byte less and it is cut in two')
  checkSplit(t, cut, rows, exact - 1)
})

t.test('encode batches – a page over the limit is cut into bodies under it, rows in order', async (t) => {
  const rows: WireRow[] = Array.from({ length: 10 }, (_, i) => [i, `${TRICKY[i]!} ${'ã😀'.repeat(40_000 + i * 5_000)}`, i, i % 2 === 0])
  const bodies = encodeBatches(columns, rows, 960_000, describeRow)
  t.ok(bodies.length >= 3, `cut into ${bodies.length} bodies`)
  checkSplit(t, bodies, rows, 960_000)
})

t.test('encode batches – random pages and limits: always exact, within the limit, greedy', async (t) => {
  const rnd = lcg(20240611)
  const pool = ['a', 'Z', ' ', 'ç', 'ã', 'É', '€', '😀', '𝄞', '"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', '\udfff', '\ufffd']
  for (let c = 0; c < 40; c++) {
    const rows: WireRow[] = Array.from({ length: 1 + Math.floor(rnd() * 60) }, (_, i) => {
      let s = ''
      for (let n = Math.floor(rnd() * 200); n > 0; n--) s += pool[Math.floor(rnd() * pool.length)]!
      return [i, s, rnd() < 0.2 ? null : Math.floor(rnd() * 1e9), rnd() < 0.5]
    })
    const largestRow = Math.max(...rows.map((r) => expected([r]).length))
    const maxBytes = largestRow + Math.floor(rnd() * 3 * largestRow)
    const bodies = encodeBatches(columns, rows, maxBytes, describeRow)
    t.ok(bodies.every((b) => isUtf8(b)), `case ${c}: valid UTF-8`)
    checkSplit(t, bodies, rows, maxBytes)
  }
})

t.test('encode batches – a row that cannot fit in any batch is refused, naming it', async (t) => {
  const huge: WireRow = [7, 'é'.repeat(600_000), null, true]
  const alone = expected([huge]).length
  t.throws(() => encodeBatches(columns, [[1, 'a', 1, true], huge, [2, 'b', 2, false]], 960_000, describeRow), {
    code: 'SIS_EXTRACT_ROW_TOO_LARGE',
    message: `row [7] is ${alone} bytes as JSON, more than the 960000 bytes a batch may have (SISPORTA_MAX_BATCH_BYTES, and the NATS server's max_payload)`
  }, 'the size counted is the body the row alone would make')
  t.equal(encodeBatches(columns, [huge], alone, describeRow).length, 1, 'a row that fits exactly alone is a body')
})

t.test('encode batches – an empty page is no body', async (t) => {
  t.same(encodeBatches(columns, [], 960_000, describeRow), [])
})
