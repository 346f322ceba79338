import t, { type Test } from 'tap'
import type { Msg } from 'nats'
import type { LoadRecord, LoadState, OpenRecord } from '@sisporta/contracts'
import { errorOf, startGateway, type Gateway } from './fixture.js'

/**
 * The gateway's side of diffed reloads (docs/reloads.md): which full loads it opens diffed, the
 * range comparisons it hands to a persister over NATS (here a plain NATS subscription stands in
 * for the persisters' queue group), and what a diffed load's seal must state.
 */

const EMPTY_HASHES = ''
/** Two 8-byte row hashes, base64. */
const TWO_HASHES = Buffer.alloc(16, 7).toString('base64')

/** The way from `open` to each state, as the gateway, reconciler and operators drive it. */
const PATH: Record<LoadState, readonly LoadState[]> = {
  open: [],
  sealed: ['sealed'],
  applied: ['sealed', 'applied'],
  held: ['sealed', 'applied', 'held'],
  approved: ['sealed', 'applied', 'held', 'approved'],
  reconciled: ['sealed', 'applied', 'reconciled'],
  superseded: ['sealed', 'applied', 'superseded'],
  discarded: ['sealed', 'discarded'],
  failed: ['failed'],
  abandoned: ['abandoned']
}

/** A load of `stream` (sending every row) driven through the registry to `state`. */
async function loadIn (gw: Gateway, state: LoadState, options: { stream?: string, mode?: 'full' | 'incremental' } = {}): Promise<LoadRecord> {
  const opened = await gw.openLoad(options.stream ?? 'products', options.mode ?? 'full')
  let load = opened
  for (const next of PATH[state]) {
    load = (await gw.loads.transition(load.stream, load.id, (l) => ({ ...l, state: next, ...(next === 'sealed' ? { sealedAt: new Date().toISOString(), batches: 0, rows: 0 } : {}) }))).load
  }
  return load
}

async function openFull (gw: Gateway, body: Record<string, unknown> = { mode: 'full', reload: 'diff' }, stream = 'products'): Promise<LoadRecord> {
  const res = await gw.app.inject({ method: 'POST', url: `/v1/streams/${stream}/loads`, headers: gw.auth(), payload: body })
  if (res.statusCode !== 201) throw new Error(`open load: ${res.statusCode} ${res.body}`)
  return (res.json() as { load: LoadRecord }).load
}

/** The open record the gateway wrote for a load, read straight from the registry bucket. */
async function openRecordOf (gw: Gateway, load: LoadRecord): Promise<OpenRecord> {
  const kv = await gw.nc.jetstream().views.kv(gw.names.loadsBucket, { bindOnly: true })
  const entry = await kv.get(`open.${load.stream}.${load.id}`)
  if (entry === null) throw new Error(`no open record for load ${load.id}`)
  return JSON.parse(new TextDecoder().decode(entry.value)) as OpenRecord
}

/** A diffed open load of `products`: a reconciled full load first, then a full load asking for a diff. */
async function diffedLoad (gw: Gateway): Promise<LoadRecord> {
  await loadIn(gw, 'reconciled')
  const load = await openFull(gw)
  if (load.reload !== 'diff') throw new Error(`load ${load.id} was not opened diffed`)
  return load
}

async function compare (gw: Gateway, load: { id: number, stream: string }, body: unknown, auth = gw.auth()) {
  return await gw.app.inject({ method: 'POST', url: `/v1/streams/${load.stream}/loads/${load.id}/compare`, headers: auth, payload: body as object })
}

async function verify (gw: Gateway, stream: string, body: unknown, auth = gw.auth()) {
  return await gw.app.inject({ method: 'POST', url: `/v1/streams/${stream}/compare`, headers: auth, payload: body as object })
}

async function seal (gw: Gateway, load: { id: number, stream: string }, body: unknown) {
  return await gw.app.inject({ method: 'POST', url: `/v1/streams/${load.stream}/loads/${load.id}/seal`, headers: gw.auth(), payload: body as object })
}

interface Asked { subject: string, request: Record<string, unknown> }

/**
 * A persister stand-in: a plain NATS subscription in the comparers' queue group that records
 * each request and answers `answer(request)`. Flushed, so the server knows it before a request.
 */
async function responder (t: Test, gw: Gateway, answer: (request: Record<string, unknown>) => unknown): Promise<Asked[]> {
  const asked: Asked[] = []
  const sub = gw.nc.subscribe(gw.names.compareSubjects, {
    queue: gw.names.compareQueue,
    callback: (err: Error | null, msg: Msg) => {
      if (err !== null) return
      const request = JSON.parse(new TextDecoder().decode(msg.data)) as Record<string, unknown>
      asked.push({ subject: msg.subject, request })
      msg.respond(new TextEncoder().encode(JSON.stringify(answer(request))))
    }
  })
  t.teardown(() => { sub.unsubscribe() })
  await gw.nc.flush()
  return asked
}

const REPLY = { send: [1], targetRows: 2, unmatched: 1, unmatchedKeys: [['B']], marked: 1 }

t.test('open – a full load asking for a diff opens as rows while the stream has no reconciled full load', async (t) => {
  const gw = await startGateway(t)
  const first = await openFull(gw)
  t.equal(first.reload, undefined, 'no reconciled full load at all: rows')
  t.equal((await openRecordOf(gw, first)).reload, undefined, 'nor in the open record')
  // an incremental load reconciled is no mirror of the source
  await gw.loads.transition('products', first.id, (l) => ({ ...l, state: 'abandoned' }))
  await loadIn(gw, 'reconciled', { mode: 'incremental' })
  const second = await openFull(gw)
  t.equal(second.reload, undefined, 'only an incremental load reconciled: rows')
  t.ok(gw.logs.some((l) => l.msg === 'diffed reload asked for; opening a load that sends every row' && /no reconciled full load/.test(String(l.reason))), 'the reason is logged')
})

t.test('open – with a reconciled full load and every other load final, a full load asking for a diff opens diffed; its open record says so', async (t) => {
  const gw = await startGateway(t)
  await loadIn(gw, 'reconciled')
  for (const state of ['failed', 'abandoned', 'discarded', 'superseded'] as const) await loadIn(gw, state)
  await loadIn(gw, 'open', { stream: 'customers' }) // another stream's loads do not count
  const load = await openFull(gw)
  t.equal(load.reload, 'diff')
  t.equal((await gw.loads.get('products', load.id))?.load.reload, 'diff', 'stored in the load record')
  t.equal((await openRecordOf(gw, load)).reload, 'diff', 'and in the open record')
  t.match(gw.logs.find((l) => l.msg === 'load opened' && l.loadId === load.id), { reload: 'diff' })

  // the same stream without asking, or an incremental load asking, is not diffed
  await gw.loads.transition('products', load.id, (l) => ({ ...l, state: 'abandoned' }))
  const plain = await openFull(gw, { mode: 'full' })
  t.equal(plain.reload, undefined, 'not asked: rows')
  t.equal((await openRecordOf(gw, plain)).reload, undefined)
  await gw.loads.transition('products', plain.id, (l) => ({ ...l, state: 'abandoned' }))
  t.equal((await openFull(gw, { mode: 'incremental', reload: 'diff' })).reload, undefined, 'an incremental load is never diffed')
})

for (const state of ['open', 'sealed', 'applied', 'held', 'approved'] as const) {
  t.test(`open – a full load asking for a diff opens as rows while another load of the stream is ${state}`, async (t) => {
    const gw = await startGateway(t)
    await loadIn(gw, 'reconciled')
    const other = await loadIn(gw, state)
    const load = await openFull(gw)
    t.equal(load.reload, undefined, `load ${other.id} is ${state}: rows`)
    t.equal((await openRecordOf(gw, load)).reload, undefined, 'nor in the open record')
    t.ok(gw.logs.some((l) => l.msg === 'diffed reload asked for; opening a load that sends every row' && String(l.reason).includes(`load ${other.id} of the stream is ${state}`)), 'the reason names the other load')
  })
}

t.test('compare – only an open diffed load compares: a rows load is refused, a sealed one is not open', async (t) => {
  const gw = await startGateway(t)
  const asked = await responder(t, gw, () => ({ ok: REPLY }))
  const rows = await openFull(gw) // no reconciled full load yet: rows
  t.match(errorOf(t, await compare(gw, rows, { lo: null, hi: null, hashes: EMPTY_HASHES }), 409, 'SIS_GW_COMPARE_REFUSED').message, /opened to send every row/)
  await gw.loads.transition('products', rows.id, (l) => ({ ...l, state: 'abandoned' }))
  const diffed = await diffedLoad(gw)
  t.equal((await seal(gw, diffed, { batches: 0, rows: 0, comparedRows: 0, comparedRanges: 1, equalRanges: 1 })).statusCode, 200)
  t.match(errorOf(t, await compare(gw, diffed, { lo: null, hi: null, hashes: EMPTY_HASHES }), 409, 'SIS_GW_LOAD_NOT_OPEN').message, /is sealed/)
  errorOf(t, await compare(gw, { id: 9999, stream: 'products' }, { lo: null, hi: null, hashes: EMPTY_HASHES }), 404, 'SIS_GW_LOAD_UNKNOWN')
  t.same(asked, [], 'no persister was asked')
})

t.test('compare – bounds that do not fit the key and hashes that are not whole row hashes are 400, asked of no one', async (t) => {
  const gw = await startGateway(t)
  const asked = await responder(t, gw, () => ({ ok: REPLY }))
  await loadIn(gw, 'reconciled', { stream: 'customers' })
  const load = await openFull(gw, { mode: 'full', reload: 'diff' }, 'customers') // key: id bigint
  t.equal(load.reload, 'diff')
  const invalid = async (body: unknown, pattern: RegExp): Promise<void> => {
    t.match(errorOf(t, await compare(gw, load, body), 400, 'SIS_GW_COMPARE_INVALID').message, pattern)
  }
  await invalid({ lo: ['1', '2'], hi: null, hashes: EMPTY_HASHES }, /^lo: 2 key values, but the key of stream 'customers' has 1 columns \(id\)/)
  await invalid({ lo: null, hi: [5], hashes: EMPTY_HASHES }, /^hi\[0\] \(key column 'id'\): expected a string of digits \(bigint\)/)
  await invalid({ lo: ['abc'], hi: null, hashes: EMPTY_HASHES }, /^lo\[0\] \(key column 'id'\): expected a string of digits \(bigint\)/)
  await invalid({ lo: null, hi: [null], hashes: EMPTY_HASHES }, /^hi\[0\] \(key column 'id'\): is null/)
  await invalid({ lo: null, hi: null, hashes: Buffer.alloc(12).toString('base64') }, /^hashes: 12 bytes of base64 is not a whole number of 8-byte row hashes/)
  await invalid({ lo: null, hi: null, hashes: 'AAAAAAAAAAA' }, /^hashes: /) // base64 cut short
  // the verify route checks the same way
  t.match(errorOf(t, await verify(gw, 'customers', { lo: ['1'], hi: ['x'], hashes: EMPTY_HASHES }), 400, 'SIS_GW_COMPARE_INVALID').message, /^hi\[0\]/)
  // malformed beyond the key: the schema's 400
  errorOf(t, await compare(gw, load, { lo: null, hi: null, hashes: '***' }), 400, 'SIS_GW_INVALID_REQUEST')
  errorOf(t, await compare(gw, load, { lo: null, hi: null }), 400, 'SIS_GW_INVALID_REQUEST')
  t.same(asked, [], 'no persister was asked')
})

t.test('compare – no persister subscribed is 503 SIS_GW_COMPARER_UNAVAILABLE with Retry-After', async (t) => {
  const gw = await startGateway(t)
  const load = await diffedLoad(gw)
  for (const res of [await compare(gw, load, { lo: null, hi: null, hashes: TWO_HASHES }), await verify(gw, 'products', { lo: null, hi: null, hashes: TWO_HASHES })]) {
    t.match(errorOf(t, res, 503, 'SIS_GW_COMPARER_UNAVAILABLE').message, /retry/)
    t.equal(res.headers['retry-after'], '1')
  }
})

t.test('compare – a persister that does not answer in time is 503 SIS_GW_COMPARER_UNAVAILABLE', async (t) => {
  const gw = await startGateway(t, { compareTimeoutMs: 500 })
  const load = await diffedLoad(gw)
  // subscribed, never answering: the request waits for the whole timeout
  const sub = gw.nc.subscribe(gw.names.compareSubjects, { queue: gw.names.compareQueue })
  t.teardown(() => { sub.unsubscribe() })
  await gw.nc.flush()
  const res = await compare(gw, load, { lo: null, hi: null, hashes: TWO_HASHES })
  t.match(errorOf(t, res, 503, 'SIS_GW_COMPARER_UNAVAILABLE').message, /within 0\.5 s \(SISPORTA_COMPARE_TIMEOUT\)/)
  t.equal(res.headers['retry-after'], '1')
})

t.test('compare – the persister\'s reply is passed through; it was asked on the stream\'s subject with the load id, bounds and hashes', async (t) => {
  const gw = await startGateway(t)
  const asked = await responder(t, gw, () => ({ ok: REPLY }))
  const load = await diffedLoad(gw)
  const res = await compare(gw, load, { lo: ['A'], hi: ['C'], hashes: TWO_HASHES })
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json(), REPLY, 'the reply as the persister gave it')
  t.same(asked, [{ subject: gw.names.compareSubject('products'), request: { loadId: load.id, lo: ['A'], hi: ['C'], hashes: TWO_HASHES } }])
  const open = await compare(gw, load, { lo: null, hi: null, hashes: EMPTY_HASHES })
  t.equal(open.statusCode, 200, 'open bounds and no hashes: a range past the source\'s end')
  t.same(asked[1]?.request, { loadId: load.id, lo: null, hi: null, hashes: EMPTY_HASHES })
})

t.test('compare – verify asks without a load id and needs no load', async (t) => {
  const gw = await startGateway(t)
  const asked = await responder(t, gw, () => ({ ok: { ...REPLY, marked: 0 } }))
  const res = await verify(gw, 'customers', { lo: ['10'], hi: null, hashes: TWO_HASHES })
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json(), { ...REPLY, marked: 0 })
  t.same(asked, [{ subject: gw.names.compareSubject('customers'), request: { lo: ['10'], hi: null, hashes: TWO_HASHES } }], 'no loadId: verify marks nothing')
})

t.test('compare – a persister\'s transient error is 503 (retry), any other is 409 with its code and message', async (t) => {
  const gw = await startGateway(t)
  let answer: unknown = { error: { code: 'SIS_PERSIST_DB_UNAVAILABLE', message: 'MariaDB is restarting', transient: true } }
  await responder(t, gw, () => answer)
  const load = await diffedLoad(gw)
  const body = { lo: null, hi: ['Z'], hashes: TWO_HASHES }
  const transient = await compare(gw, load, body)
  t.match(errorOf(t, transient, 503, 'SIS_GW_COMPARER_UNAVAILABLE').message, /SIS_PERSIST_DB_UNAVAILABLE: MariaDB is restarting/)
  t.equal(transient.headers['retry-after'], '1')
  answer = { error: { code: 'SIS_PERSIST_COMPARE_FAILED', message: 'target table products has no column sku', transient: false } }
  const refused = await compare(gw, load, body)
  t.equal(errorOf(t, refused, 409, 'SIS_GW_COMPARE_REFUSED').message, 'SIS_PERSIST_COMPARE_FAILED: target table products has no column sku')
  t.equal(refused.headers['retry-after'], undefined, 'not to be retried')
})

t.test('compare – a token without the stream is 403 on both routes', async (t) => {
  const gw = await startGateway(t)
  const asked = await responder(t, gw, () => ({ ok: REPLY }))
  const load = await diffedLoad(gw)
  const body = { lo: null, hi: null, hashes: EMPTY_HASHES }
  errorOf(t, await compare(gw, load, body, gw.auth(['customers'])), 403, 'SIS_GW_STREAM_FORBIDDEN')
  errorOf(t, await verify(gw, 'products', body, gw.auth(['customers'])), 403, 'SIS_GW_STREAM_FORBIDDEN')
  errorOf(t, await verify(gw, 'products', body, {} as { authorization: string }), 401, 'SIS_GW_TOKEN_MISSING')
  t.same(asked, [], 'no persister was asked')
})

t.test('seal – a diffed load states its comparison counts, which land in the load record; a rows load states none', async (t) => {
  const gw = await startGateway(t)
  const diffed = await diffedLoad(gw)
  t.match(errorOf(t, await seal(gw, diffed, { batches: 1, rows: 5 }), 409, 'SIS_GW_COMPARE_REFUSED').message, /is a diffed load: its seal states the rows and ranges compared/)
  t.equal((await gw.loads.get('products', diffed.id))?.load.state, 'open', 'the refused seal changed nothing')
  t.match(errorOf(t, await seal(gw, diffed, { batches: 1, rows: 5, comparedRows: 100 }), 400, 'SIS_GW_INVALID_REQUEST').message, /together, or none of them/)
  errorOf(t, await seal(gw, diffed, { batches: 1, rows: 5, comparedRanges: 2, equalRanges: 1 }), 400, 'SIS_GW_INVALID_REQUEST')
  t.match(errorOf(t, await seal(gw, diffed, { batches: 1, rows: 5, comparedRows: 100, comparedRanges: 2, equalRanges: 3 }), 400, 'SIS_GW_INVALID_REQUEST').message, /equalRanges \(3\) cannot exceed comparedRanges \(2\)/)
  errorOf(t, await seal(gw, diffed, { batches: 1, rows: 5, comparedRows: -1, comparedRanges: 2, equalRanges: 1 }), 400, 'SIS_GW_INVALID_REQUEST')
  t.equal((await gw.loads.get('products', diffed.id))?.load.state, 'open')

  const sealed = await seal(gw, diffed, { batches: 1, rows: 5, comparedRows: 100, comparedRanges: 2, equalRanges: 1 })
  t.equal(sealed.statusCode, 200, sealed.body)
  t.match((sealed.json() as { load: LoadRecord }).load, { state: 'sealed', reload: 'diff', batches: 1, rows: 5, comparedRows: 100, comparedRanges: 2, equalRanges: 1 })
  t.match((await gw.loads.get('products', diffed.id))?.load, { state: 'sealed', comparedRows: 100, comparedRanges: 2, equalRanges: 1 }, 'in the registry')

  const rows = await openFull(gw, { mode: 'full' })
  t.equal(rows.reload, undefined)
  t.match(errorOf(t, await seal(gw, rows, { batches: 1, rows: 5, comparedRows: 100, comparedRanges: 2, equalRanges: 1 }), 409, 'SIS_GW_COMPARE_REFUSED').message, /opened to send every row: its seal states no comparison/)
  const plain = await seal(gw, rows, { batches: 1, rows: 5 })
  t.equal(plain.statusCode, 200, plain.body)
  const record = (plain.json() as { load: LoadRecord }).load
  t.equal(record.state, 'sealed')
  t.notOk('comparedRows' in record || 'comparedRanges' in record || 'equalRanges' in record, 'no comparison counts in a rows load')
})
