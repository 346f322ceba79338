import t from 'tap'
import { JSON_MAX_DEPTH, JsonTextProblem, checkWireValue, createBatchChecker, createJsonTextCheck, findRowCells, scanJsonValue, type RowCell, type StreamConfig } from '@sisporta/contracts'

/** `n` arrays inside one another around `inner`: `[[…inner…]]`. */
function nested (n: number, inner = '1'): string {
  return '['.repeat(n) + inner + ']'.repeat(n)
}

/** `n` objects inside one another around `inner`: `{"a":{"a":…inner…}}`. */
function nestedObjects (n: number, inner = '1'): string {
  return '{"a":'.repeat(n) + inner + '}'.repeat(n)
}

function scan (text: string): number {
  const bytes = Buffer.from(text, 'utf8')
  const end = scanJsonValue(bytes, 0)
  return end === bytes.length ? 0 : end < 0 ? end : -99
}

/** The value of JSON text as JSON.parse reads it, checked as a json column value, in both string forms. */
function verdicts (text: string): [string | undefined, string | undefined] {
  const asText = checkWireValue({ type: 'json' }, JSON.parse(text))
  // the latin1 fast path of the gateway only parses bodies without \u escapes
  const asBytes = text.includes('\\u') ? asText : checkWireValue({ type: 'json' }, JSON.parse(Buffer.from(text, 'utf8').toString('latin1')), 'utf8-bytes')
  return [asText, asBytes]
}

const TOO_DEEP = /JSON nested deeper than 32 levels/
const LONE = /JSON text has a lone surrogate/

t.test('json text – accepts what MariaDB\'s JSON_VALID accepts, as it was written', async (t) => {
  t.equal(JSON_MAX_DEPTH, 32)
  const accepted = [
    '1e400', '-1e-400', '12345678901234567890123', '0.1000000000000000000001', '-0', '0e0', '1E+2', 'true', 'false', 'null', '""', '"x"',
    '{"a":1,"a":2}', '{ "b" : [ 1 ,\t2\n,\r3 ] , "a" : null }', '[]', '{}', '{"":1}', '"\\u00e9\\ud83d\\ude80\\uDBFF\\uDFFF"', '"é😀日本"',
    '"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000"',
    nested(31), nested(31, ''), nested(30, '{}'), nestedObjects(31), nested(15, nestedObjects(16))
  ]
  for (const text of accepted) {
    t.equal(scan(text), 0, `scanned whole: ${text.slice(0, 60)}`)
    t.same(verdicts(text), [undefined, undefined], `checked: ${text.slice(0, 60)}`)
  }
})

t.test('json text – refuses nesting deeper than 32 levels and lone surrogates, parsed or as text, in both string forms', async (t) => {
  const refused: [string, RegExp, number][] = [
    [nested(32), TOO_DEEP, JsonTextProblem.TooDeep],
    [nested(32, ''), TOO_DEEP, JsonTextProblem.TooDeep],
    [nested(31, '{}'), TOO_DEEP, JsonTextProblem.TooDeep],
    [nestedObjects(32), TOO_DEEP, JsonTextProblem.TooDeep],
    [nested(16, nestedObjects(16)), TOO_DEEP, JsonTextProblem.TooDeep],
    [nested(100_000), TOO_DEEP, JsonTextProblem.TooDeep],
    ['"\\ud800"', LONE, JsonTextProblem.LoneSurrogate],
    ['"x\\udc00"', LONE, JsonTextProblem.LoneSurrogate],
    ['"\\udc00\\ud800"', LONE, JsonTextProblem.LoneSurrogate],
    ['"\\ud800\\u0041"', LONE, JsonTextProblem.LoneSurrogate],
    ['{"\\ud800":1}', LONE, JsonTextProblem.LoneSurrogate],
    ['[1,{"k":["\\udfff"]}]', LONE, JsonTextProblem.LoneSurrogate]
  ]
  for (const [text, message, code] of refused) {
    const [asText, asBytes] = verdicts(text)
    t.match(asText, message, `parsed: ${text.slice(0, 40)}`)
    t.equal(asBytes, asText, `the same verdict in the utf8-bytes form: ${text.slice(0, 40)}`)
    t.equal(scan(text), code, `as text: ${text.slice(0, 40)}`)
  }
})

t.test('json text – scans exactly JSON.parse\'s grammar', async (t) => {
  const bad = ['', '01', '1.', '.5', '+1', '1e', '-', 'tru', 'nul', '[1,]', '[,1]', '{"a"}', '{"a":}', '{a:1}', "'x'", '"a\tb"', '"\\x"', '"\\u12"', '"\\u12G4"', '[1 2]', '{"a":1,}', '[', '{"a":1', '"abc', 'NaN', 'Infinity']
  for (const text of bad) {
    t.throws(() => JSON.parse(text), `JSON.parse refuses ${JSON.stringify(text)}`)
    t.equal(scan(text), text === '01' ? -99 : JsonTextProblem.Syntax, `the scanner does not take ${JSON.stringify(text)} as one value`)
  }
})

t.test('json text – finds each json value\'s text in a batch body, the last rows key counting, and checks what JSON.parse dropped', async (t) => {
  const cellsOf = (body: string, columns: number[]): [string[], unknown] => {
    const bytes = Buffer.from(body, 'utf8')
    const cells: RowCell[] = []
    const problem = findRowCells(bytes, new Set(columns), (cell) => cells.push(cell))
    return [cells.map((c) => `${c.row}/${c.column}:${bytes.toString('utf8', c.start, c.end)}`), problem]
  }
  t.same(cellsOf(' { "columns" : ["id","doc"] , "rows" : [ [ 1 , { "b" : 1e400 , "b" : 2 } ] ,[2,null],[3, "é" ] ] } ', [1]),
    [['0/1:{ "b" : 1e400 , "b" : 2 }', '1/1:null', '2/1:"é"'], undefined], 'spans without the whitespace around')
  t.same(cellsOf('{"rows":[[1,[1]]],"columns":["id","doc"],"rows":[[1,[2]]]}', [1]), [['0/1:[2]'], undefined], 'the last rows key, as JSON.parse')
  t.same(cellsOf('{"columns":["id","doc"],"\\u0072ows":[[1,[3]]]}', [1]), [['0/1:[3]'], undefined], 'an escaped key that reads as rows')
  // JSON.parse keeps the last "a"; the target would still get, and refuse, the first
  const hidden = `{"columns":["id","doc"],"rows":[[1,{}],[2,{"a":${nested(32)},"a":1}]]}`
  const parsed = JSON.parse(hidden) as { rows: unknown[][] }
  t.equal(checkWireValue({ type: 'json' }, parsed.rows[1]![1]), undefined, 'the parsed value looks fine')
  t.same(cellsOf(hidden, [1])[1], { row: 1, column: 1, code: JsonTextProblem.TooDeep }, 'its text is refused, naming row and column')
  t.same(cellsOf(`{"columns":["id","doc"],"rows":[[1,{"a":"\\ud800","a":1}]]}`, [1])[1], { row: 0, column: 1, code: JsonTextProblem.LoneSurrogate })
  t.same(cellsOf(`{"columns":["id","doc"],"rows":[[${nested(40)},1]]}`, [1]), [['0/1:1'], undefined], 'other columns are not held to the json limits')
})

t.test('json text – the text check names row and column of a json value the batch check cannot see, as the batch check words it', async (t) => {
  // (a stream as the config parser makes it; @sisporta/config depends on this package)
  const stream: StreamConfig = {
    name: 'docs',
    source: { table: 'erp.docs' },
    target: { table: 'docs', key: ['id'] },
    deletes: 'none',
    maxDeleteRatio: 0,
    columns: [{ name: 'id', from: 'id', type: 'int' }, { name: 'label', from: 'label', type: 'string' }, { name: 'doc', from: 'doc', type: 'json' }]
  }
  const checkText = createJsonTextCheck(stream)
  const checkParsed = createBatchChecker(stream)
  const verdicts = (body: string): [unknown, unknown] => {
    const parsed = JSON.parse(body) as { columns: string[], rows: unknown[][] }
    return [checkParsed(parsed), checkText(parsed, Buffer.from(body, 'utf8'))]
  }
  const deep = nested(32)
  t.same(verdicts(`{"columns":["id","doc"],"rows":[[1,{}],[2,{"a":${deep},"a":1}]]}`), [undefined,
    { row: 1, column: 'doc', message: "row 1, column 'doc' (json): JSON nested deeper than 32 levels (at most 31 arrays or objects inside one another)" }], 'hidden behind a duplicate key')
  t.same(verdicts(`{"columns":["id","doc"],"rows":[[1,${deep}]]}`)[0], verdicts(`{"columns":["id","doc"],"rows":[[1,${deep}]]}`)[1], 'in sight: both say the same')
  t.same(verdicts('{"columns":["doc","id"],"rows":[[{"k":"\\ud800","k":2},1]]}')[1], { row: 0, column: 'doc', message: "row 0, column 'doc' (json): JSON text has a lone surrogate (an unpaired \\ud800-\\udfff escape)" })
  t.same(verdicts(`{"columns":["id","label"],"rows":[[1,"x"]]}`), [undefined, undefined], 'no json column: nothing to scan')
  t.same(verdicts(`{"columns":["id","doc"],"rows":[[1,{"a":1,"a":2}],[2,1e400],[3,${nested(31)}]]}`), [undefined, undefined], 'what the target takes')
})
