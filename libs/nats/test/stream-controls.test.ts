import t from 'tap'
import type { NatsConnection } from 'nats'
import { testBus } from '@sisporta/testkit'
import { LoadRegistry, StreamControls, controlKey, describePause } from '@sisporta/nats'

/** Writes a key of the registry bucket straight through KV, as anyone with write access to the bucket could. */
async function forge (nc: NatsConnection, bucket: string, key: string, value: unknown): Promise<void> {
  const kv = await nc.jetstream().views.kv(bucket, { bindOnly: true })
  await kv.put(key, new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value)))
}

t.test('stream controls – a stream without a record is active; pause says who, when and why; resume lifts it', async (t) => {
  const { nc, names } = await testBus(t)
  const controls = await StreamControls.bind(nc, names)
  t.same(await controls.get('products'), { stream: 'products', paused: false }, 'no record: not paused')
  t.same(await controls.list(), [], 'nothing listed')
  const paused = await controls.pause('products', { by: 'alice', reason: '  ERP upgrade  ' })
  t.equal(paused.changed, true)
  t.match(paused.control, { stream: 'products', paused: true, pausedBy: 'alice', reason: 'ERP upgrade' })
  t.ok(!Number.isNaN(Date.parse(paused.control.pausedAt!)), 'pausedAt is a time')
  t.same(await controls.get('products'), paused.control, 'stored as returned')
  t.match(describePause(paused.control), /^stream 'products' is paused \(by alice at .*: ERP upgrade\): no new load opens until `sisporta streams resume products`$/)
  const again = await controls.pause('products', { by: 'bob', reason: 'other' })
  t.equal(again.changed, false, 'pausing a paused stream changes nothing')
  t.equal(again.control.pausedBy, 'alice', 'who paused it first stays')
  t.same((await controls.list()).map((c) => c.stream), ['products'])
  const resumed = await controls.resume('products', { by: 'bob' })
  t.equal(resumed.changed, true)
  t.match(resumed.control, { stream: 'products', paused: false, resumedBy: 'bob' })
  t.notOk('pausedBy' in resumed.control || 'reason' in resumed.control, 'the pause\'s who and why go with it')
  t.equal((await controls.get('products')).paused, false)
  t.equal((await controls.resume('products', { by: 'bob' })).changed, false, 'resuming an active stream changes nothing')
  t.equal((await controls.resume('customers', { by: 'bob' })).changed, false, 'nor one that never had a record')
  t.same(await controls.get('customers'), { stream: 'customers', paused: false })
})

t.test('stream controls – concurrent pauses: exactly one wins, none is lost', async (t) => {
  const { nc, names } = await testBus(t)
  const controls = await Promise.all(Array.from({ length: 6 }, async () => await StreamControls.bind(nc, names)))
  const results = await Promise.all(controls.map(async (c, i) => await c.pause('products', { by: `op${i}` })))
  t.equal(results.filter((r) => r.changed).length, 1, 'one pause changed the record')
  const stored = await controls[0]!.get('products')
  t.equal(stored.pausedBy, results.find((r) => r.changed)!.control.pausedBy, 'the winner is what is stored')
  // a sync request racing a resume: both land (compare-and-set retries on the newer record)
  await Promise.all([controls[1]!.resume('products', { by: 'x' }), controls[2]!.requestSync('products', { by: 'y' })])
  t.match(await controls[0]!.get('products'), { paused: false, resumedBy: 'x', syncRequestedBy: 'y' })
})

t.test('stream controls – a malformed record reads as paused, loudly; resume or pause rewrites it; sync is refused', async (t) => {
  const { nc, names } = await testBus(t)
  const reported: string[] = []
  const controls = await StreamControls.bind(nc, names, { onMalformed: (key, problem) => reported.push(`${key}: ${problem}`) })
  const cases: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{paused: false', /not JSON/],
    ['a wrong type', { stream: 'products', paused: 'no' }, /\/paused/],
    ['an unknown key', { stream: 'products', paused: false, extra: 1 }, /extra|additional/i],
    ['a pause without who', { stream: 'products', paused: true }, /pausedBy and pausedAt/],
    ['half a sync request', { stream: 'products', paused: false, syncRequestedAt: new Date().toISOString() }, /sync request needs all/],
    ['another stream\'s record', { stream: 'customers', paused: false }, /about stream 'customers'/]
  ]
  for (const [what, value, problem] of cases) {
    reported.length = 0
    await forge(nc, names.loadsBucket, controlKey('products'), value)
    const control = await controls.get('products')
    t.equal(control.paused, true, `${what}: treated as paused`)
    t.match(control.malformed, problem, `${what}: says why`)
    t.equal(reported.length, 1, `${what}: reported once`)
    t.ok(reported[0]?.startsWith('control.products: ') && problem.test(reported[0]), `${what}: reported with its key and problem (${reported[0]})`)
    t.match(describePause(control), /treated as paused: its control record \(control\.products in the registry\) is malformed .*`sisporta streams resume products` rewrites it/)
  }
  await t.rejects(controls.requestSync('products', { by: 'alice' }), { code: 'SIS_BUS_CONTROL_MALFORMED', message: /streams resume products/ }, 'a sync request is refused on a malformed record')
  t.equal(await controls.pendingSync('products'), undefined)
  const resumed = await controls.resume('products', { by: 'alice' })
  t.equal(resumed.changed, true, 'resume rewrites the malformed record')
  t.same((await controls.get('products')).paused, false)
  await forge(nc, names.loadsBucket, controlKey('products'), 'garbage')
  t.match((await controls.pause('products', { by: 'alice' })).control, { paused: true, pausedBy: 'alice' }, 'pause rewrites it too')
  t.equal((await controls.get('products')).malformed, undefined)
})

t.test('stream controls – a sync request is pending until the stream has a load opened after it', async (t) => {
  const { nc, names } = await testBus(t)
  const controls = await StreamControls.bind(nc, names)
  const registry = await LoadRegistry.bind(nc, names)
  const open = async (stream: string): Promise<number> => {
    const load = await registry.openLoad({ stream, mode: 'full' })
    await registry.claimNewest(stream, load.id)
    return load.id
  }
  await open('products')
  await open('customers')
  t.equal(await controls.pendingSync('products'), undefined, 'no request')
  const { control } = await controls.requestSync('products', { by: 'alice' })
  t.equal(control.syncAfterLoad, 2, 'the sequence at the time of the request')
  t.match(await controls.pendingSync('products'), { stream: 'products', requestedBy: 'alice', requestedAt: control.syncRequestedAt })
  t.same((await controls.syncRequestsToServe(['products', 'customers'])).map((r) => r.stream), ['products'])
  await open('customers')
  t.ok(await controls.pendingSync('products'), 'a load of another stream does not serve it')
  await open('products')
  t.equal(await controls.pendingSync('products'), undefined, 'served by the next load of the stream')
  t.same(await controls.syncRequestsToServe(['products', 'customers']), [])
  t.equal((await controls.get('products')).syncRequestedBy, 'alice', 'the record stays (the gateway writes nothing)')
  // the stream's newest load is the newest of all (its id is the sequence): a request now waits for the next one
  await controls.requestSync('products', { by: 'alice' })
  t.ok(await controls.pendingSync('products'), 'a request made after the newest load is pending, even when that load holds the sequence\'s id')
  await open('products')
  t.equal(await controls.pendingSync('products'), undefined, 'and served by the next')

  await controls.requestSync('customers', { by: 'bob' })
  await controls.pause('customers', { by: 'bob', reason: 'hold on' })
  t.ok(await controls.pendingSync('customers'), 'pending while paused')
  t.same(await controls.syncRequestsToServe(['products', 'customers']), [], 'but not handed out: the stream would refuse the load')
  await controls.resume('customers', { by: 'bob' })
  t.same((await controls.syncRequestsToServe(['products', 'customers'])).map((r) => r.stream), ['customers'], 'handed out once resumed')

  t.match(await (await StreamControls.bind(nc, names)).requestSync('orders', { by: 'carol' }), { control: { stream: 'orders', paused: false, syncAfterLoad: 5 } })
  t.ok(await controls.pendingSync('orders'), 'a stream that never had a load: pending')
  await forge(nc, names.loadsBucket, 'newest.orders', '999999')
  t.ok(await controls.pendingSync('orders'), 'a newest id the sequence never reached does not serve it')
})

t.test('stream controls – bad names and operators are refused before anything is written', async (t) => {
  const { nc, names } = await testBus(t)
  const controls = await StreamControls.bind(nc, names)
  await t.rejects(controls.pause('Products', { by: 'alice' }), { code: 'SIS_BUS_CONTROL_INVALID', exitCode: 2 })
  await t.rejects(controls.get('a.b'), { code: 'SIS_BUS_CONTROL_INVALID' })
  await t.rejects(controls.pause('products', { by: '  ' }), { code: 'SIS_BUS_CONTROL_INVALID', message: /named/ })
  await t.rejects(controls.pause('products', { by: 'alice', reason: 'x'.repeat(2001) }), { code: 'SIS_BUS_CONTROL_INVALID', message: /2001 characters/ })
  t.same(await controls.list(), [], 'nothing written')
})
