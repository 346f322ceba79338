import t from 'tap'
import { request, Agent } from 'node:http'
import { connect as tcpConnect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { issueToken } from '@sisporta/cli'
import { eventually } from '@sisporta/testkit'
import { startPipeline, type Pipeline } from '../support/pipeline.js'

// The gateway as the images run it (a capped heap), alone: a flood of large batches must get
// 202 or 503 + Retry-After, never crash it, and every 202 must be a stored message.
const CONFIG = `
streams:
  - name: notes
    source: { table: notes }
    target: { table: notes, key: [id] }
    columns:
      - { name: id, from: id, type: int }
      - { name: body, from: body, type: string }
`
const HEAP_MB = 64
const MAX_IN_FLIGHT = 8

interface Answer { status: number, code?: string, retryAfter?: string, ms: number }

/** One ~800 KB batch body: 2000 rows of accented text. */
function batchBody (batch: number): Buffer {
  const text = 'Ação à vista: válvula de pressão nº 7, lingüiça, coração, órgão — '.repeat(6)
  const rows = Array.from({ length: 2000 }, (_, i) => [batch * 2000 + i, `${i} ${text}`])
  return Buffer.from(JSON.stringify({ columns: ['id', 'body'], rows }))
}

async function post (p: Pipeline, agent: Agent, path: string, body: Buffer): Promise<Answer> {
  const started = performance.now()
  return await new Promise((resolve, reject) => {
    const req = request(`${p.env.SISPORTA_GATEWAY_URL!}/v1${path}`, {
      method: 'POST',
      agent,
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json', 'content-length': body.length }
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let code: string | undefined
        try { code = (JSON.parse(text) as { code?: string }).code } catch {}
        resolve({ status: res.statusCode ?? 0, ...(code !== undefined ? { code } : {}), ...(res.headers['retry-after'] !== undefined ? { retryAfter: res.headers['retry-after'] } : {}), ms: performance.now() - started })
      })
    })
    // a 503 may come before the body is sent: the gateway closes the request early
    req.on('error', (err: NodeJS.ErrnoException) => { err.code === 'EPIPE' || err.code === 'ECONNRESET' ? resolve({ status: -1, code: err.code, ms: 0 }) : reject(err) })
    req.end(body)
  })
}

async function batchMessages (p: Pipeline): Promise<number> {
  const jsm = await p.nc.jetstreamManager()
  return (await jsm.streams.info(p.names.batchStream)).state.messages
}

function percentile (values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
}

t.test('gateway under pressure – a flood of large batches gets 202 or 503 + Retry-After, the gateway stays up, every 202 is stored', async (t) => {
  const p = await startPipeline(t, {
    configYaml: CONFIG,
    services: ['gateway'],
    // one token here: its share is the whole bound, so what is measured is the global bound
    env: { NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}`, SISPORTA_GATEWAY_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), SISPORTA_GATEWAY_MAX_IN_FLIGHT_PER_TOKEN: String(MAX_IN_FLIGHT) }
  })
  const gateway = p.services.get('gateway')!
  let exited: number | string | undefined
  void gateway.exited.then((code) => { exited = code })
  const opened = await post(p, new Agent(), '/streams/notes/loads', Buffer.from('{"mode":"full"}'))
  t.equal(opened.status, 201)
  const loadId = 1
  const BATCHES = 120
  const bodies = Array.from({ length: BATCHES }, (_, b) => batchBody(b))
  t.comment(`${BATCHES} bodies of ${bodies[0]!.length} bytes, all at once, against a gateway with a ${HEAP_MB} MB heap and ${MAX_IN_FLIGHT} batches in flight`)

  // The bound is full when the flood starts (stalled uploads hold every slot), so the flood is
  // refused at least once whatever the machine's speed; the slots are freed as soon as its first
  // answer is in, and the rest of the flood races for them.
  const url = new URL(p.env.SISPORTA_GATEWAY_URL!)
  const stalls = Array.from({ length: MAX_IN_FLIGHT }, (_, i) => stalledUpload(url, p.token, `/streams/notes/loads/${loadId}/batches/${BATCHES + i}`, bodies[0]!))
  await eventually(async () => {
    const metrics = await (await fetch(`${url.origin}/metrics`)).text()
    return new RegExp(`^sisporta_gateway_batches_in_progress(\\{[^}]*\\})? ${MAX_IN_FLIGHT}$`, 'm').test(metrics) ? true : undefined
  }, { what: 'the stalled uploads to hold every slot' })
  const agent = new Agent({ keepAlive: true, maxSockets: BATCHES })
  const flood = bodies.map(async (body, b) => await post(p, agent, `/streams/notes/loads/${loadId}/batches/${b}`, body))
  await Promise.race(flood)
  for (const stall of stalls) stall.socket.destroy()
  const answers = await Promise.all(flood)
  const accepted = answers.filter((a) => a.status === 202)
  const busy = answers.filter((a) => a.status === 503 || a.status === -1)
  t.equal(accepted.length + busy.length, BATCHES, `only 202 and 503 (${accepted.length} accepted, ${busy.length} refused)`, { statuses: [...new Set(answers.map((a) => a.status))] })
  t.ok(busy.length > 0, 'the bound refused some (it was full when the flood began)')
  for (const a of busy.filter((a) => a.status === 503)) {
    if (a.code !== 'SIS_GW_BUSY' || a.retryAfter !== '1') t.fail(`a 503 without SIS_GW_BUSY and Retry-After: ${JSON.stringify(a)}`)
  }
  t.equal(exited, undefined, 'the gateway is still running')
  t.equal(await batchMessages(p), accepted.length, 'every 202 is a stored message, and nothing else is')
  t.comment(`accepted batch latency under the flood: p50 ${Math.round(percentile(accepted.map((a) => a.ms), 0.5))} ms, p99 ${Math.round(percentile(accepted.map((a) => a.ms), 0.99))} ms`)

  // what the extractor does with a 503: try again later; in the end every batch is stored once
  const refused = answers.map((a, b) => a.status === 202 ? -1 : b).filter((b) => b >= 0)
  for (let round = 0; refused.length > 0 && round < 50; round++) {
    const retry = refused.splice(0, MAX_IN_FLIGHT)
    const again = await Promise.all(retry.map(async (b) => await post(p, agent, `/streams/notes/loads/${loadId}/batches/${b}`, bodies[b]!)))
    again.forEach((a, i) => { if (a.status !== 202) refused.push(retry[i]!) })
    if (refused.length > 0) await sleep(200)
  }
  t.same(refused, [], 'every refused batch was accepted on retry')
  t.equal(await batchMessages(p), BATCHES, 'each batch stored exactly once')
  const health = await fetch(`${p.env.SISPORTA_GATEWAY_URL!}/healthz`)
  t.equal(health.status, 200, 'healthy after the flood')
  agent.destroy()
})

t.test('gateway under pressure – slow uploads hold their slot until they end, then free it', async (t) => {
  const p = await startPipeline(t, { configYaml: CONFIG, services: ['gateway'], env: { SISPORTA_GATEWAY_MAX_IN_FLIGHT: '3', SISPORTA_GATEWAY_MAX_IN_FLIGHT_PER_TOKEN: '3' } })
  const agent = new Agent()
  t.equal((await post(p, agent, '/streams/notes/loads', Buffer.from('{"mode":"full"}'))).status, 201)
  const url = new URL(p.env.SISPORTA_GATEWAY_URL!)
  const body = batchBody(0)
  // three clients send their headers and a first part of the body, then stall
  const stalled: Socket[] = []
  for (let b = 0; b < 3; b++) {
    const socket = tcpConnect(Number(url.port), url.hostname)
    socket.on('error', () => {})
    socket.write(`POST /v1/streams/notes/loads/1/batches/${b} HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${p.token}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`)
    socket.write(body.subarray(0, 1000))
    stalled.push(socket)
  }
  await eventually(async () => {
    const metrics = await (await fetch(`${url.origin}/metrics`)).text()
    return /^sisporta_gateway_batches_in_progress(\{[^}]*\})? 3$/m.test(metrics) ? true : undefined
  }, { what: 'the stalled uploads to be counted' })
  const refused = await post(p, agent, '/streams/notes/loads/1/batches/9', body)
  t.equal(refused.status, 503, 'a fourth batch is refused while three bodies are still arriving')
  t.equal(refused.code, 'SIS_GW_BUSY')
  t.equal(refused.retryAfter, '1')

  for (const socket of stalled) socket.destroy()
  await eventually(async () => {
    const answer = await post(p, agent, '/streams/notes/loads/1/batches/9', body)
    return answer.status === 202 ? true : undefined
  }, { what: 'the batch to be accepted' })
  t.pass('once the stalled clients went away, their slots are free again')
  t.equal(await batchMessages(p), 1, 'nothing of the abandoned uploads was published')
})

/** Sends the headers and the first bytes of a batch body, then stalls; collects whatever the gateway answers. */
function stalledUpload (url: URL, token: string, path: string, body: Buffer): { socket: Socket, answer: Promise<{ status: number, code?: string, retryAfter?: string }> } {
  const socket = tcpConnect(Number(url.port), url.hostname)
  socket.on('error', () => {})
  socket.write(`POST /v1${path} HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`)
  socket.write(body.subarray(0, 1000))
  const answer = new Promise<{ status: number, code?: string, retryAfter?: string }>((resolve) => {
    let text = ''
    const settle = (): void => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? -1)
      const code = /"code":"([A-Z_]+)"/.exec(text)?.[1]
      const retryAfter = /\r\nretry-after: (\S+)/i.exec(text)?.[1]
      resolve({ status, ...(code !== undefined ? { code } : {}), ...(retryAfter !== undefined ? { retryAfter } : {}) })
    }
    // an answer is complete once its body (Content-Length) is in: the connection may stay open
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
      const head = text.indexOf('\r\n\r\n')
      const length = /\r\ncontent-length: (\d+)/i.exec(text)?.[1]
      if (head >= 0 && length !== undefined && Buffer.byteLength(text.slice(head + 4)) >= Number(length)) settle()
    })
    socket.on('close', settle)
  })
  return { socket, answer }
}

t.test('gateway under pressure – one token\'s stalled uploads hold only its own share: another token still gets 202, and the stalled bodies are cut off with 408', async (t) => {
  const p = await startPipeline(t, {
    configYaml: CONFIG,
    services: ['gateway'],
    env: { SISPORTA_GATEWAY_MAX_IN_FLIGHT: '16', SISPORTA_GATEWAY_MAX_IN_FLIGHT_PER_TOKEN: '8', SISPORTA_GATEWAY_BODY_TIMEOUT: '15' }
  })
  const agent = new Agent()
  t.equal((await post(p, agent, '/streams/notes/loads', Buffer.from('{"mode":"full"}'))).status, 201)
  const url = new URL(p.env.SISPORTA_GATEWAY_URL!)
  const body = batchBody(0)
  // sixteen stalled uploads from one token: it may hold eight slots, the rest are refused at once
  const uploads = Array.from({ length: 16 }, (_, b) => stalledUpload(url, p.token, `/streams/notes/loads/1/batches/${b}`, body))
  await eventually(async () => {
    const metrics = await (await fetch(`${url.origin}/metrics`)).text()
    return /^sisporta_gateway_batches_in_progress(\{[^}]*\})? 8$/m.test(metrics) ? true : undefined
  }, { what: 'eight stalled uploads to hold their slots' })

  // another extractor's token is not held up
  const other = issueToken({ jwtSecret: p.env.SISPORTA_JWT_SECRET! }, { streams: ['notes'], subject: 'other-extractor', ttl: '1h' })
  const theirs = await new Promise<number>((resolve, reject) => {
    const req = request(`${url.origin}/v1/streams/notes/loads/1/batches/99`, {
      method: 'POST',
      agent,
      headers: { authorization: `Bearer ${other}`, 'content-type': 'application/json', 'content-length': body.length }
    }, (res) => { res.resume(); res.on('end', () => { resolve(res.statusCode ?? 0) }) })
    req.on('error', reject)
    req.end(body)
  })
  t.equal(theirs, 202, 'a batch from another token is accepted while the first token stalls')

  const giveUp = new AbortController()
  type Answer = { status: number, code?: string, retryAfter?: string }
  const ceiling = sleep(120_000, undefined, { signal: giveUp.signal }).then((): Answer => ({ status: 0, code: 'no answer within 120 s' }), (): Answer => ({ status: 0 }))
  const answers = await Promise.all(uploads.map(async (u) => await Promise.race([u.answer, ceiling])))
  giveUp.abort()
  const busy = answers.filter((a) => a.status === 429)
  const late = answers.filter((a) => a.status === 408)
  t.equal(busy.length, 8, 'eight refused at once, with 429')
  t.ok(busy.every((a) => a.code === 'SIS_GW_TOKEN_BUSY' && a.retryAfter === '1'), 'SIS_GW_TOKEN_BUSY with Retry-After', { busy })
  t.equal(late.length, 8, 'the eight stalled bodies are answered 408 once SISPORTA_GATEWAY_BODY_TIMEOUT passes')
  t.ok(late.every((a) => a.code === 'SIS_GW_BODY_TIMEOUT'), 'SIS_GW_BODY_TIMEOUT', { late })
  await eventually(async () => {
    const metrics = await (await fetch(`${url.origin}/metrics`)).text()
    return /^sisporta_gateway_batches_in_progress(\{[^}]*\})? 0$/m.test(metrics) ? true : undefined
  }, { what: 'every slot freed' })
  const mine = await post(p, agent, '/streams/notes/loads/1/batches/0', body)
  t.equal(mine.status, 202, 'the first token can send again')
  t.equal(await batchMessages(p), 2, 'nothing of the cut-off uploads was published')
  for (const u of uploads) u.socket.destroy()
  agent.destroy()
})
