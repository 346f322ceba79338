import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSigner } from 'fast-jwt'
import { parseConfig } from '@sisporta/config'
import { buildGatewayApp } from '@sisporta/gateway'
import { createLogger, createMetricsRegistry } from '@sisporta/observability'
import { logSink, selfSignedCertificate, testBus } from '@sisporta/testkit'
import { GatewayClient } from '../src/gateway-client.js'
import { encodeBatches } from '../src/encode-batches.js'

const SECRET = 'gateway-client-test-secret-long-enough-for-hs256'
const token = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 })({ sub: 'test', streams: ['*'] })
const config = parseConfig(`
streams:
  - name: items
    source: { table: items }
    target: { table: items, key: [id] }
    columns:
      - { name: id,   from: id,   type: int }
      - { name: note, from: note, type: string }
`, 'test.yaml', {})

/** The real gateway app on a fresh NATS namespace, listening on a free port (HTTPS when given a certificate). */
async function startGateway (t: Test, https?: { cert: Buffer, key: Buffer }): Promise<{ url: string, lastBatch: () => Promise<Buffer> }> {
  const { nc, names } = await testBus(t)
  const app = await buildGatewayApp({ config, nc, names, log: createLogger({ service: 'gateway', level: 'warn', destination: logSink().stream }), metrics: createMetricsRegistry('gateway'), auth: { secret: SECRET }, https })
  t.teardown(async () => { await app.close() })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const jsm = await nc.jetstreamManager()
  return {
    url,
    /** The payload of the last batch published on the bus. */
    lastBatch: async () => Buffer.from((await jsm.streams.getMessage(names.batchStream, { last_by_subj: names.batchSubject('items') })).data)
  }
}

interface Seen { method: string, url: string, headers: IncomingHttpHeaders, body: Buffer }

/**
 * A small real HTTP server whose answers the test scripts: `answer` gets each request (its
 * body read) and its number, from 0. Records the requests, and counts connections.
 */
async function scriptedServer (t: Test, answer: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<{ url: string, seen: Seen[], connections: () => number }> {
  const seen: Seen[] = []
  let connections = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) })
      answer(req, res, seen.length - 1)
    })
  })
  server.on('connection', () => { connections++ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, seen, connections: () => connections }
}

function json (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

const accepted = (n: number): object => ({ stream: 'items', loadId: 3, batch: n, rows: 1, duplicate: false })
const busy = { statusCode: 503, code: 'SIS_GW_BUSY', error: 'Service Unavailable', message: 'the gateway has 9 batches awaiting JetStream: retry shortly' }

t.test('gateway client – with the real gateway: opens a load, posts batches as bytes, reads and seals it', async (t) => {
  const gw = await startGateway(t)
  const retries: string[] = []
  // A trailing slash on the URL is fine.
  const client = new GatewayClient({ url: `${gw.url}/`, token, onRetry: (r) => retries.push(r.reason) })
  const load = await client.openLoad('items', 'full')
  t.equal(load.state, 'open')
  const [body, ...more] = encodeBatches(['id', 'note'], [[1, 'Açúcar ☕ 😀'], [2, 'tab\tquote" \u0000 \u2028 \\'], [3, null]], 960_000, String)
  t.equal(more.length, 0)
  t.same(await client.postBatch('items', load.id, 0, body!), { stream: 'items', loadId: load.id, batch: 0, rows: 3, duplicate: false })
  t.ok((await gw.lastBatch()).equals(body!), 'the bus holds the bytes sent, byte for byte')
  t.same(await client.postBatch('items', load.id, 0, body!), { stream: 'items', loadId: load.id, batch: 0, rows: 3, duplicate: true }, 'a resent batch is a duplicate')
  const text = JSON.stringify({ columns: ['id', 'note'], rows: [[4, 'texto ação']] })
  t.same(await client.postBatch('items', load.id, 1, text), { stream: 'items', loadId: load.id, batch: 1, rows: 1, duplicate: false }, 'a body given as text is sent too')
  t.ok((await gw.lastBatch()).equals(Buffer.from(text, 'utf8')), 'as its UTF-8 bytes')
  t.equal((await client.getLoad('items', load.id)).id, load.id)
  const sealed = await client.seal('items', load.id, { batches: 2, rows: 4 })
  t.equal(sealed.state, 'sealed')
  t.same([sealed.batches, sealed.rows], [2, 4])
  t.same(retries, [], 'nothing needed a retry')
})

t.test('gateway client – the real gateway\'s 4xx answers are definite: rejected at once, exit code 2 for a token or a name that is wrong', async (t) => {
  const gw = await startGateway(t)
  let retries = 0
  const client = new GatewayClient({ url: gw.url, token, onRetry: () => { retries++ } })
  const load = await client.openLoad('items', 'full')
  await t.rejects(client.postBatch('items', load.id, 0, Buffer.from('{"columns":["id","note"],"rows":[[1.5,"x"]]}')), {
    code: 'SIS_EXTRACT_REJECTED', statusCode: 400, exitCode: 1, message: /^gateway refused batch 0 of load \d+: 400 SIS_GW_BATCH_INVALID .*row 0, column 'id'/
  })
  await t.rejects(client.openLoad('nosuch', 'full'), { code: 'SIS_EXTRACT_REJECTED', statusCode: 404, exitCode: 2, message: /404 SIS_GW_STREAM_UNKNOWN/ })
  await t.rejects(new GatewayClient({ url: gw.url, token: 'not-a-jwt', onRetry: () => { retries++ } }).getLoad('items', load.id), { code: 'SIS_EXTRACT_REJECTED', statusCode: 401, exitCode: 2 })
  await client.seal('items', load.id, { batches: 0, rows: 0 })
  await t.rejects(client.postBatch('items', load.id, 0, Buffer.from('{"columns":["id","note"],"rows":[[1,"x"]]}')), { code: 'SIS_EXTRACT_REJECTED', statusCode: 409, exitCode: 1, message: /SIS_GW_LOAD_NOT_OPEN/ })
  t.equal(retries, 0, 'none was retried')
})

t.test('gateway client – sends to the URL\'s path prefix, with the token, the JSON type and the body\'s length', async (t) => {
  const server = await scriptedServer(t, (req, res, n) => { json(res, req.method === 'GET' ? 200 : 202, req.method === 'GET' ? { load: { id: 3 } } : accepted(n)) })
  const client = new GatewayClient({ url: `${server.url}/sisporta//`, token })
  const body = Buffer.from(JSON.stringify({ columns: ['id', 'note'], rows: [[1, 'ação 😀']] }))
  await client.postBatch('items', 3, 7, body)
  await client.getLoad('items', 3)
  const [post, get] = server.seen
  t.equal(post!.method, 'POST')
  t.equal(post!.url, '/sisporta/v1/streams/items/loads/3/batches/7')
  t.equal(post!.headers.authorization, `Bearer ${token}`)
  t.equal(post!.headers['content-type'], 'application/json')
  t.equal(post!.headers['content-length'], String(body.length), 'the length in bytes, not characters')
  t.equal(post!.headers['transfer-encoding'], undefined, 'not chunked')
  t.ok(post!.body.equals(body), 'the body as given')
  t.equal(get!.method, 'GET')
  t.equal(get!.url, '/sisporta/v1/streams/items/loads/3')
  t.equal(get!.headers.authorization, `Bearer ${token}`)
  t.equal(get!.body.length, 0, 'a GET has no body')
})

t.test('gateway client – retries the statuses that mean "busy" or "restarting", then succeeds', async (t) => {
  const statuses = [408, 425, 429, 500, 502, 503, 504]
  const server = await scriptedServer(t, (_req, res, n) => {
    if (n < statuses.length) json(res, statuses[n]!, { ...busy, statusCode: statuses[n] })
    else json(res, 202, accepted(n))
  })
  const retries: Array<{ what: string, attempt: number, reason: string }> = []
  const client = new GatewayClient({ url: server.url, token, baseDelayMs: 1, onRetry: ({ what, attempt, reason }) => retries.push({ what, attempt, reason }) })
  t.same(await client.postBatch('items', 3, 5, Buffer.from('{}')), accepted(statuses.length))
  t.same(retries, statuses.map((s, i) => ({ what: 'batch 5 of load 3', attempt: i + 1, reason: `${s} ${busy.message}` })), 'one retry per busy answer, with its status and message')
  t.ok(server.seen.every((r) => r.body.equals(Buffer.from('{}'))), 'the same body each time')
})

t.test('gateway client – honours Retry-After in seconds; waits with exponential backoff and jitter otherwise', async (t) => {
  const server = await scriptedServer(t, (_req, res, n) => {
    if (n === 0) json(res, 503, busy, { 'retry-after': '1' })
    else if (n === 1) json(res, 429, busy, { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' })
    else if (n < 6) res.writeHead(500).end('<html>oops</html>')
    else json(res, 202, accepted(n))
  })
  const delays: number[] = []
  const client = new GatewayClient({ url: server.url, token, baseDelayMs: 8, maxAttempts: 10, onRetry: (r) => delays.push(r.delayMs) })
  await client.postBatch('items', 3, 0, Buffer.from('{}'))
  t.equal(delays.length, 6)
  t.equal(delays[0], 1000, 'Retry-After: 1 waits a second (more than the backoff)')
  for (const [i, delay] of delays.entries()) {
    if (i === 0) continue
    const backoff = 8 * 2 ** i
    t.ok(delay >= backoff / 2 && delay <= backoff, `attempt ${i + 1}: ${delay} ms is within [${backoff / 2}, ${backoff}]${i === 1 ? ' (a Retry-After date is ignored)' : ''}`)
  }
})

t.test('gateway client – other statuses are definite: not retried, message from the reply', async (t) => {
  const answers: Array<[number, string, 1 | 2]> = [[400, 'SIS_GW_INVALID_REQUEST', 1], [401, 'SIS_GW_TOKEN_EXPIRED', 2], [403, 'SIS_GW_STREAM_FORBIDDEN', 2], [404, 'SIS_GW_LOAD_UNKNOWN', 2], [409, 'SIS_GW_SEAL_MISMATCH', 1], [413, 'SIS_GW_BODY_TOO_LARGE', 1], [422, 'SIS_GW_WHATEVER', 1]]
  const server = await scriptedServer(t, (_req, res, n) => {
    if (n < answers.length) json(res, answers[n]![0], { statusCode: answers[n]![0], code: answers[n]![1], error: 'x', message: `because ${n}` })
    else res.writeHead(418, { 'content-type': 'text/html' }).end('<html>\n  I am a teapot\n</html>')
  })
  let retries = 0
  const client = new GatewayClient({ url: server.url, token, baseDelayMs: 1, onRetry: () => { retries++ } })
  for (const [i, [status, code, exitCode]] of answers.entries()) {
    await t.rejects(client.seal('items', 3, { batches: 1, rows: 1 }), { code: 'SIS_EXTRACT_REJECTED', statusCode: status, exitCode, message: `gateway refused seal load 3: ${status} ${code} because ${i}` })
  }
  await t.rejects(client.seal('items', 3, { batches: 1, rows: 1 }), { code: 'SIS_EXTRACT_REJECTED', statusCode: 418, exitCode: 1, message: 'gateway refused seal load 3: 418 <html> I am a teapot </html>' }, 'a reply that is not JSON is quoted')
  t.equal(retries, 0)
  t.equal(server.seen.length, answers.length + 1, 'one request each')
})

t.test('gateway client – a connection reset or a reply cut short is retried', async (t) => {
  const server = await scriptedServer(t, (req, res, n) => {
    if (n === 0) req.socket.destroy()
    else if (n === 1) {
      res.writeHead(202, { 'content-type': 'application/json', 'content-length': 1000 })
      res.write('{"stream":"it', () => { res.destroy() })
    } else json(res, 202, accepted(n))
  })
  const reasons: string[] = []
  const client = new GatewayClient({ url: server.url, token, baseDelayMs: 1, onRetry: (r) => reasons.push(r.reason) })
  t.same(await client.postBatch('items', 3, 2, Buffer.from('{}')), accepted(2))
  t.same(reasons, ['ECONNRESET', 'ECONNRESET'])
})

t.test('gateway client – a slow answer times out and is retried; after maxAttempts the gateway is unavailable', async (t) => {
  const server = await scriptedServer(t, (req, res, n) => {
    if (n === 0) return // never answers
    if (n === 1) {
      res.writeHead(202, { 'content-type': 'application/json', 'content-length': 1000 })
      res.write('{"stream":') // and never finishes
      return
    }
    // every later post is answered at once (reads are never answered: giveUp below)
    if (req.method === 'POST') json(res, 202, accepted(2))
  })
  const reasons: string[] = []
  // a timeout the answered attempt beats easily, even on a loaded machine; should it not, that
  // attempt is retried too and the assertions below still hold
  const client = new GatewayClient({ url: server.url, token, baseDelayMs: 1, timeoutMs: 1500, onRetry: (r) => reasons.push(r.reason) })
  t.same(await client.postBatch('items', 3, 2, Buffer.from('{}')), accepted(2))
  t.ok(reasons.length >= 2 && reasons.every((r) => r === 'request timed out'), 'no answer, and an answer that stops half-way: both timed out and retried', { reasons })
  t.equal(server.seen.length, reasons.length + 1, 'answered at the attempt after the last timeout')
  const giveUp = new GatewayClient({ url: server.url, token, baseDelayMs: 1, timeoutMs: 100, maxAttempts: 3 })
  await t.rejects(giveUp.getLoad('items', 3), { code: 'SIS_EXTRACT_GATEWAY_UNAVAILABLE', exitCode: 1, message: 'gateway did not accept read load 3 after 3 attempts: request timed out' })

  const down = await scriptedServer(t, (_req, res) => { json(res, 503, busy) })
  await t.rejects(new GatewayClient({ url: down.url, token, baseDelayMs: 1, maxAttempts: 4 }).openLoad('items', 'full'), {
    code: 'SIS_EXTRACT_GATEWAY_UNAVAILABLE', message: `gateway did not accept open full load of items after 4 attempts: 503 ${busy.message}`
  })
  t.equal(down.seen.length, 4)
})

t.test('gateway client – keeps connections alive, and opens at most maxSockets', async (t) => {
  const server = await scriptedServer(t, (_req, res, n) => { setTimeout(() => json(res, 202, accepted(n)), 20) })
  const client = new GatewayClient({ url: server.url, token, maxSockets: 2 })
  for (let i = 0; i < 4; i++) await client.postBatch('items', 3, i, Buffer.from('{}'))
  t.equal(server.connections(), 1, 'requests one after another share one connection')
  const replies = await Promise.all(Array.from({ length: 8 }, async (_, i) => await client.postBatch('items', 3, 10 + i, Buffer.from('{}'))))
  t.equal(replies.length, 8)
  t.equal(server.connections(), 2, 'eight at once share two connections')
})

const tls = selfSignedCertificate()
const tlsDir = tls?.dir ?? ''
const haveCert = tls !== undefined

t.test('gateway client – HTTPS: refuses a certificate it does not trust, works with NODE_EXTRA_CA_CERTS', { skip: haveCert ? false : 'openssl is not installed' }, async (t) => {
  const certFile = join(tlsDir, 'cert.pem')
  const gw = await startGateway(t, { cert: readFileSync(certFile), key: readFileSync(join(tlsDir, 'key.pem')) })
  t.match(gw.url, /^https:\/\//)
  await t.rejects(new GatewayClient({ url: gw.url, token, maxAttempts: 1 }).openLoad('items', 'full'), {
    code: 'SIS_EXTRACT_GATEWAY_UNAVAILABLE', message: /after 1 attempts: DEPTH_ZERO_SELF_SIGNED_CERT/
  }, 'an unknown self-signed certificate is refused')
  // Node reads NODE_EXTRA_CA_CERTS once, at start-up: the trusting client runs in a process of its own.
  const script = `
    const { GatewayClient } = await import(process.env.CLIENT_MODULE)
    const gw = new GatewayClient({ url: process.env.GATEWAY_URL, token: process.env.GATEWAY_TOKEN, maxAttempts: 1 })
    const load = await gw.openLoad('items', 'full')
    const reply = await gw.postBatch('items', load.id, 0, Buffer.from(JSON.stringify({ columns: ['id', 'note'], rows: [[1, 'ação ☕']] })))
    console.log(JSON.stringify({ state: load.state, reply }))`
  const child = spawn(process.execPath, ['--conditions=sisporta-src', '--import=tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: certFile, CLIENT_MODULE: new URL('../src/gateway-client.ts', import.meta.url).href, GATEWAY_URL: gw.url, GATEWAY_TOKEN: token },
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 0, stderr)
  const out = JSON.parse(stdout.trim().split('\n').at(-1) ?? 'null') as { state: string, reply: { rows: number, batch: number } }
  t.equal(out.state, 'open', 'opened a load over HTTPS')
  t.same([out.reply.batch, out.reply.rows], [0, 1], 'and posted a batch')
})
