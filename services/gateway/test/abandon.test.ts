import t from 'tap'
import type { LoadRecord } from '@sisporta/contracts'
import { LoadRegistry, newestKey } from '@sisporta/nats'
import { errorOf, startGateway, type Gateway } from './fixture.js'
import { testBus } from '@sisporta/testkit'

async function abandon (gw: Gateway, load: { id: number, stream: string }, body: unknown, streams?: string[]) {
  return await gw.app.inject({ method: 'POST', url: `/v1/streams/${load.stream}/loads/${load.id}/abandon`, headers: gw.auth(streams), payload: body as object })
}

async function stateOf (gw: Gateway, load: { id: number, stream: string }): Promise<LoadRecord | undefined> {
  return (await gw.loads.get(load.stream, load.id))?.load
}

t.test('abandon – an open load is abandoned at once with the extractor\'s reason; repeating it is harmless', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad()
  const res = await abandon(gw, load, { reason: 'SIS_SRC_VALUE: stream \'products\', column \'price\': value 1234567.891 does not fit' })
  t.equal(res.statusCode, 200)
  const abandoned = (res.json() as { load: LoadRecord }).load
  t.match(abandoned, { id: load.id, state: 'abandoned', reason: /^abandoned by its extractor \('test-extractor'\): SIS_SRC_VALUE: .*column 'price'/ })
  t.same(await stateOf(gw, load), abandoned, 'stored in the registry')
  const again = await abandon(gw, load, { reason: 'a retry with another text' })
  t.equal(again.statusCode, 200)
  t.same(again.json(), { load: abandoned }, 'the retry changes nothing, the first reason stays')
  t.match(errorOf(t, await gw.postBatch(load, 0, { columns: ['sku', 'qty'], rows: [['A', 1]] }), 409, 'SIS_GW_LOAD_NOT_OPEN').message, /is abandoned/, 'it takes no more batches')
  t.match(gw.logs.find((l) => l.msg === 'load abandoned by its extractor'), { level: 'warn', stream: 'products', loadId: load.id, by: 'test-extractor' }, 'logged at warn')
})

t.test('abandon – only an open load: sealed or failed loads are 409, unknown ones 404, bad bodies 400, other streams\' tokens 403', async (t) => {
  const gw = await startGateway(t)
  const sealed = await gw.openLoad('customers')
  await gw.loads.transition('customers', sealed.id, (l) => ({ ...l, state: 'sealed', batches: 1, rows: 1 }))
  t.match(errorOf(t, await abandon(gw, sealed, { reason: 'x' }), 409, 'SIS_GW_LOAD_NOT_OPEN').message, /is sealed: only an open load can be abandoned/)
  t.equal((await stateOf(gw, sealed))?.state, 'sealed', 'a sealed load is being applied: not the extractor\'s to give up')
  await gw.loads.transition('customers', sealed.id, (l) => ({ ...l, state: 'failed', reason: 'batch 0 was dead-lettered as #3' }))
  errorOf(t, await abandon(gw, sealed, { reason: 'x' }), 409, 'SIS_GW_LOAD_NOT_OPEN')
  t.equal((await stateOf(gw, sealed))?.reason, 'batch 0 was dead-lettered as #3', 'the failure\'s reason is kept')
  errorOf(t, await abandon(gw, { id: 99999, stream: 'products' }, { reason: 'x' }), 404, 'SIS_GW_LOAD_UNKNOWN')
  const open = await gw.openLoad()
  t.match(errorOf(t, await abandon(gw, open, {}), 400, 'SIS_GW_INVALID_REQUEST').message, /reason/)
  t.match(errorOf(t, await abandon(gw, open, { reason: '' }), 400, 'SIS_GW_INVALID_REQUEST').message, /body\/reason/)
  t.match(errorOf(t, await abandon(gw, open, { reason: 'x'.repeat(2001) }), 400, 'SIS_GW_INVALID_REQUEST').message, /body\/reason/)
  errorOf(t, await abandon(gw, open, { reason: 'x', state: 'reconciled' }), 400, 'SIS_GW_INVALID_REQUEST')
  errorOf(t, await abandon(gw, open, { reason: 'x' }, ['customers']), 403, 'SIS_GW_STREAM_FORBIDDEN')
  t.equal((await stateOf(gw, open))?.state, 'open', 'refused requests change nothing')
  t.equal((await abandon(gw, open, { reason: 'x'.repeat(2000) })).statusCode, 200, '2000 characters are fine')
})

t.test('one open load per stream – opening a load abandons the older one still open, naming the newer load', async (t) => {
  const gw = await startGateway(t)
  const first = await gw.openLoad('products')
  const other = await gw.openLoad('customers')
  const second = await gw.openLoad('products')
  const older = await stateOf(gw, first)
  t.equal(older?.state, 'abandoned', 'the older open load is abandoned at once')
  t.match(older?.reason, new RegExp(`^load ${second.id} of this stream was opened by 'test-extractor' at .* while this one was still open; one open load per stream$`))
  t.equal((await stateOf(gw, second))?.state, 'open', 'the newer load goes on')
  t.equal((await stateOf(gw, other))?.state, 'open', 'another stream\'s load is not touched')
  // a sealed load is being applied: a newer open leaves it alone
  await gw.loads.transition('products', second.id, (l) => ({ ...l, state: 'sealed', batches: 0, rows: 0 }))
  const third = await gw.openLoad('products')
  t.equal((await stateOf(gw, second))?.state, 'sealed', 'an older sealed load is left to be applied')
  t.equal((await stateOf(gw, third))?.state, 'open')
  t.match(gw.logs.find((l) => l.msg === 'older open load abandoned'), { stream: 'products', loadId: first.id })
})

t.test('one open load per stream – concurrent opens end with exactly one open load, the newest', async (t) => {
  const gw = await startGateway(t)
  const replies = await Promise.all(Array.from({ length: 8 }, async () => await gw.app.inject({ method: 'POST', url: '/v1/streams/products/loads', headers: gw.auth(), payload: { mode: 'full' } })))
  const loads = await gw.loads.list({ stream: 'products' })
  t.equal(loads.length, 8, 'eight loads opened')
  const open = loads.filter((l) => l.state === 'open')
  t.same(open.map((l) => l.id), [Math.max(...loads.map((l) => l.id))], 'one open load: the newest')
  t.same(loads.filter((l) => l.state !== 'open').map((l) => l.state), Array(7).fill('abandoned'), 'the other seven are abandoned')
  for (const res of replies) {
    if (res.statusCode !== 201) t.match(errorOf(t, res, 409, 'SIS_GW_LOAD_SUPERSEDED').message, /was opened at the same moment/)
  }
  t.ok(replies.some((r) => r.statusCode === 201 && (r.json() as { load: LoadRecord }).load.id === open[0]!.id), 'the newest load\'s opener was answered 201')
})

t.test('one open load per stream – an open that loses the race to a newer one is abandoned and answered 409', async (t) => {
  // Load A is opened, then B; B records itself as the stream's newest before A does: A must
  // not become the newest over B, and must not stay open beside it.
  const { nc, names } = await testBus(t)
  const registry = await LoadRegistry.bind(nc, names)
  let releaseFirst: () => void = () => {}
  const firstMayClaim = new Promise<void>((resolve) => { releaseFirst = resolve })
  let claims = 0
  const held = new Proxy(registry, {
    get (target, property) {
      if (property === 'claimNewest') {
        return async (stream: string, id: number) => {
          if (++claims === 1) await firstMayClaim
          return await target.claimNewest(stream, id)
        }
      }
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  const gw = await startGateway(t, { nc, names, loads: held })
  const stateOf = async (load: { id: number, stream: string }): Promise<LoadRecord | undefined> => (await registry.get(load.stream, load.id))?.load
  const openA = gw.app.inject({ method: 'POST', url: '/v1/streams/products/loads', headers: gw.auth(), payload: { mode: 'full' } })
  await t.resolves(waitFor(() => claims === 1), 'A reached its claim')
  const b = await gw.openLoad('products')
  releaseFirst()
  const a = await openA
  const error = errorOf(t, a, 409, 'SIS_GW_LOAD_SUPERSEDED')
  t.match(error.message, new RegExp(`^load ${b.id - 1} of stream 'products' was abandoned at once: load ${b.id} of the stream was opened at the same moment`))
  t.match(await stateOf({ stream: 'products', id: b.id - 1 }), { state: 'abandoned', reason: new RegExp(`load ${b.id} of this stream was opened at the same moment`) })
  t.equal((await stateOf(b))?.state, 'open', 'the newer load goes on')
  // the next open replaces B as the newest and abandons it
  const c = await gw.openLoad('products')
  t.equal((await stateOf(b))?.state, 'abandoned')
  t.equal((await stateOf(c))?.state, 'open')
})

t.test('one open load per stream – a newest-load record no gateway could have written is overwritten', async (t) => {
  const gw = await startGateway(t)
  const first = await gw.openLoad('products')
  const kv = await gw.nc.jetstream().views.kv(gw.names.loadsBucket, { bindOnly: true })
  // an id above the load id sequence: believed, it would make every later open abandon itself
  await kv.put(newestKey('products'), new TextEncoder().encode('1000000000000'))
  const second = await gw.openLoad('products')
  t.equal((await stateOf(gw, second))?.state, 'open', 'the new load is opened as usual')
  t.equal(new TextDecoder().decode((await kv.get(newestKey('products')))!.value), String(second.id), 'the record names the real newest load')
  t.equal((await stateOf(gw, first))?.state, 'open', 'the forgery hid the older load: it is left to SISPORTA_OPEN_TIMEOUT, not abandoned on a forged word')
})

async function waitFor (condition: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  if (!condition()) throw new Error('condition never met')
}
