import t from 'tap'
import { parseConfig } from '@sisporta/config'
import { startGateway, type Gateway } from './fixture.js'

// json column values: stored as the text they were sent as, so the gateway must refuse with 400
// what MariaDB's JSON type (JSON_VALID) would refuse later — the persister could then only
// dead-letter the batch, and its load would never complete.

const CONFIG = parseConfig(`
streams:
  - name: docs
    source: { table: dbo.Docs }
    target: { table: docs, key: [id] }
    columns:
      - { name: id, from: Id, type: bigint }
      - { name: label, from: Label, type: string }
      - { name: doc, from: Doc, type: json }
`, 'json.yaml', {})

/** `n` arrays inside one another around `inner`. */
function nested (n: number, inner = '1'): string {
  return '['.repeat(n) + inner + ']'.repeat(n)
}

/**
 * A body of two rows, the second holding `doc` (JSON source text). `exactPath`: a `\u` escape in
 * the first row's label, which makes the gateway's parser take its exact path (UTF-8 decoded,
 * then JSON.parse) instead of the latin1 fast path (raw-json-parser.ts).
 */
function body (doc: string, exactPath: boolean): Buffer {
  const label = exactPath ? '"caf\\u00e9"' : '"café"'
  return Buffer.from(`{"columns":["id","label","doc"],"rows":[["1",${label},{"ok":true}],["2","x",${doc}]]}`, 'utf8')
}

async function post (gw: Gateway, loadId: number, batch: number, bytes: Buffer): Promise<{ statusCode: number, code?: string, message?: string }> {
  const res = await gw.app.inject({
    method: 'POST',
    url: `/v1/streams/docs/loads/${loadId}/batches/${batch}`,
    headers: { 'content-type': 'application/json', ...gw.auth() },
    payload: bytes
  })
  if (res.statusCode === 202) return { statusCode: 202 }
  const { code, message } = res.json() as { code: string, message: string }
  return { statusCode: res.statusCode, code, message }
}

const ACCEPTED: [string, string][] = [
  ['a number beyond a double', '1e400'],
  ['a 23-digit integer', '12345678901234567890123'],
  ['a decimal with 22 digits', '0.1000000000000000000001'],
  ['duplicate keys', '{"a":1,"a":2}'],
  ['spacing and key order', '{ "z" :\t[ 1 ,\n2 ] ,  "a" : { } }'],
  ['32 levels: 31 arrays inside one another around a scalar', nested(31)],
  ['a surrogate pair', '"\\ud83d\\ude00"']
]

const TOO_DEEP = "row 1, column 'doc' (json): JSON nested deeper than 32 levels (at most 31 arrays or objects inside one another)"
const LONE = "row 1, column 'doc' (json): JSON text has a lone surrogate (an unpaired \\ud800-\\udfff escape)"

const REFUSED: [string, string, string][] = [
  ['33 levels: 32 arrays inside one another around a scalar', nested(32), TOO_DEEP],
  ['32 arrays, the innermost empty', nested(32, ''), TOO_DEEP],
  ['32 objects inside one another', '{"a":'.repeat(32) + '1' + '}'.repeat(32), TOO_DEEP],
  ['a lone high surrogate', '"\\ud800"', LONE],
  ['a lone low surrogate in a key', '{"\\udc00":1}', LONE],
  ['a surrogate pair the wrong way round', '["\\udc00\\ud800"]', LONE]
]

t.test('json values – accepted as sent (202) and put on the bus byte for byte, through both parser paths', async (t) => {
  const gw = await startGateway(t, { config: CONFIG })
  const load = await gw.openLoad('docs')
  let batch = 0
  for (const [what, doc] of ACCEPTED) {
    for (const exactPath of [false, true]) {
      // a surrogate pair needs \u escapes: only the exact path can see it
      if (!exactPath && doc.includes('\\u')) continue
      const bytes = body(doc, exactPath)
      t.same(await post(gw, load.id, batch, bytes), { statusCode: 202 }, `${what} (${exactPath ? 'exact' : 'latin1'} path)`)
      const msg = await gw.jsm.streams.getMessage(gw.names.batchStream, { last_by_subj: gw.names.batchSubject('docs') })
      t.ok(Buffer.from(msg.data).equals(bytes), `${what}: the payload is the body as sent`)
      batch++
    }
  }
})

t.test('json values – nesting deeper than 32 levels and lone surrogates are refused with 400 naming row and column, through both parser paths', async (t) => {
  const gw = await startGateway(t, { config: CONFIG })
  const load = await gw.openLoad('docs')
  for (const [what, doc, message] of REFUSED) {
    for (const exactPath of [false, true]) {
      if (!exactPath && doc.includes('\\u')) continue
      t.same(await post(gw, load.id, 0, body(doc, exactPath)), { statusCode: 400, code: 'SIS_GW_BATCH_INVALID', message: `batch 0: ${message}` }, `${what} (${exactPath ? 'exact' : 'latin1'} path)`)
    }
  }
  // a surrogate as raw bytes (CESU-8) is not UTF-8: refused for the whole body, in either path
  const cesu = Buffer.concat([Buffer.from('{"columns":["id","label","doc"],"rows":[["2","x",["'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"]]]}')])
  t.same(await post(gw, load.id, 0, cesu), { statusCode: 400, code: 'SIS_GW_MALFORMED_JSON', message: 'the body is not valid UTF-8' })
  t.equal(await gw.messageCount(), 0, 'nothing was published')
})

t.test('json values – a refused value hidden behind a duplicate key (which JSON.parse drops) is still refused with 400', async (t) => {
  const gw = await startGateway(t, { config: CONFIG })
  const load = await gw.openLoad('docs')
  for (const exactPath of [false, true]) {
    const deep = await post(gw, load.id, 0, body(`{"a":${nested(33)},"a":1}`, exactPath))
    t.match(deep, { statusCode: 400, code: 'SIS_GW_BATCH_INVALID', message: /^batch 0: row 1, column 'doc' \(json\): .*32/ }, `deep value behind a duplicate key (${exactPath ? 'exact' : 'latin1'} path)`)
  }
  const surrogate = await post(gw, load.id, 0, body('{"a":"\\ud800","a":1}', true))
  t.match(surrogate, { statusCode: 400, code: 'SIS_GW_BATCH_INVALID', message: /^batch 0: row 1, column 'doc' \(json\)/ }, 'lone surrogate behind a duplicate key')
  t.equal(await gw.messageCount(), 0, 'nothing was published')
})
