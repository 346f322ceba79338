import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { checkBody, useRawJsonParser, type BodyChecks } from '../src/raw-json-parser.js'
import type { GatewayError } from '../src/errors.js'

interface Problem { message: string }
type Check = (body: { s: string }) => Problem | undefined

/** A length check of `s` in code points, counted in the text or in its UTF-8 bytes. */
const longerThan3 = (count: (s: string) => number): Check => (body) => count(body.s) > 3 ? { message: `'${body.s}' is longer than 3` } : undefined
const LENGTH_CHECKS: BodyChecks<{ s: string }, Problem> = {
  text: longerThan3((s) => [...s].length),
  utf8Bytes: longerThan3((s) => [...s].filter((c) => (c.charCodeAt(0) & 0xc0) !== 0x80).length)
}

/** A bare app with the parser: `/fast` opts in to the latin1 path, `/exact` does not. */
async function parserApp (t: { teardown(fn: () => unknown): void }): Promise<FastifyInstance> {
  const app = Fastify()
  useRawJsonParser(app, 1 << 20)
  app.setErrorHandler((err, _request, reply) => {
    void reply.code(400).send({ code: (err as GatewayError).code, message: (err as GatewayError).message })
  })
  const seen = (request: { body: unknown, bodyReadAsLatin1: boolean, rawBody: Buffer | null }): object => ({
    latin1: request.bodyReadAsLatin1,
    body: request.body,
    rawBodyBytes: request.rawBody?.length
  })
  app.post('/fast', { config: { latin1Body: true } }, async (request) => seen(request))
  app.post('/exact', async (request) => seen(request))
  app.post('/checked', { config: { latin1Body: true } }, async (request) => {
    return { latin1: request.bodyReadAsLatin1, problem: checkBody(request, LENGTH_CHECKS)?.message ?? null }
  })
  // A bytes check that refuses everything: the answer must still be the text check's.
  app.post('/bytes-refuse', { config: { latin1Body: true } }, async (request) => {
    return { latin1: request.bodyReadAsLatin1, problem: checkBody(request, { ...LENGTH_CHECKS, utf8Bytes: () => ({ message: 'bytes' }) })?.message ?? null }
  })
  t.teardown(async () => { await app.close() })
  await app.ready()
  return app
}

async function post (app: FastifyInstance, url: string, payload: Buffer | string): Promise<Record<string, unknown>> {
  const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload })
  return res.json()
}

t.test('raw json parser – a route that opts in gets the latin1 parse: each string its UTF-8 bytes', async (t) => {
  const app = await parserApp(t)
  const body = '{"columns":["name"],"rows":[["ção 😀","a\\"b\\\\u\\n"]]}'
  const fast = await post(app, '/fast', body)
  t.equal(fast.latin1, true)
  t.same(fast.body, { columns: ['name'], rows: [[Buffer.from('ção 😀').toString('latin1'), 'a"b\\u\n']] }, 'raw text as its bytes, short escapes decoded')
  t.equal(fast.rawBodyBytes, Buffer.byteLength(body))
  const exact = await post(app, '/exact', body)
  t.equal(exact.latin1, false, 'other routes keep the exact parse')
  t.same(exact.body, { columns: ['name'], rows: [['ção 😀', 'a"b\\u\n']] })
})

t.test('raw json parser – the fast path declines whatever it would not read as the text\'s bytes', async (t) => {
  const app = await parserApp(t)
  for (const [what, body, value] of [
    ['a \\u escape', '{"s":"\\u00e9"}', { s: 'é' }],
    ['a \\u escape after an escaped backslash', '{"s":"\\\\\\u00e9"}', { s: '\\é' }],
    ['a non-ASCII key', '{"ação":1}', { ação: 1 }],
    ['a non-ASCII column name', '{"columns":["nome","descrição"],"rows":[]}', { columns: ['nome', 'descrição'], rows: [] }],
    ['a body that is not an object', '["é"]', ['é']]
  ] as const) {
    t.same(await post(app, '/fast', body), { latin1: false, body: value, rawBodyBytes: Buffer.byteLength(body) }, what)
  }
  // Refusals carry the exact path's messages, whichever route.
  for (const url of ['/fast', '/exact']) {
    t.same(await post(app, url, Buffer.from([0x7b, 0x22, 0xc3, 0x22, 0x7d])), { code: 'SIS_GW_MALFORMED_JSON', message: 'the body is not valid UTF-8' }, `${url}: invalid UTF-8`)
    t.same(await post(app, url, '\ufeff{}'), { code: 'SIS_GW_MALFORMED_JSON', message: 'the body starts with a byte-order mark; send JSON without one' }, `${url}: BOM`)
    t.same(await post(app, url, ''), { code: 'SIS_GW_MALFORMED_JSON', message: 'the body is empty; expected a JSON object' }, `${url}: empty`)
  }
  const broken = '{"a":"ção","b":x}'
  let expected = ''
  try { JSON.parse(broken) } catch (err) { expected = `the body is not valid JSON: ${(err as Error).message}` }
  t.same(await post(app, '/fast', broken), { code: 'SIS_GW_MALFORMED_JSON', message: expected }, 'the syntax error is located in the text, not in its bytes')
})

t.test('raw json parser – checkBody answers in the exact parse\'s words, and its verdict wins', async (t) => {
  const app = await parserApp(t)
  t.same(await post(app, '/checked', '{"s":"abc"}'), { latin1: true, problem: null })
  t.same(await post(app, '/checked', '{"s":"açã"}'), { latin1: true, problem: null }, '5 bytes, 3 characters: accepted without the exact parse')
  t.same(await post(app, '/checked', '{"s":"açãs"}'), { latin1: true, problem: '\'açãs\' is longer than 3' }, 'the message quotes the text, not its bytes')
  t.same(await post(app, '/checked', '{"s":"\\u00e7\\u00e3o"}'), { latin1: false, problem: null }, 'escapes: the exact parse and check')
  t.same(await post(app, '/bytes-refuse', '{"s":"açã"}'), { latin1: true, problem: null }, 'a refusal is only ever the text check\'s')
  t.same(await post(app, '/bytes-refuse', '{"s":"açãs"}'), { latin1: true, problem: '\'açãs\' is longer than 3' })
})
