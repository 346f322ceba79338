import t from 'tap'
import { testBus } from '@sisporta/testkit'
import { LoadRegistry } from '@sisporta/nats'

t.test('load registry – ids increase across streams and concurrent opens', async (t) => {
  const { nc, names } = await testBus(t)
  const registry = await LoadRegistry.bind(nc, names)
  const loads = await Promise.all(Array.from({ length: 20 }, (_, i) => registry.openLoad({ stream: i % 2 === 0 ? 'a' : 'b', mode: 'full' })))
  const ids = loads.map((l) => l.id).sort((x, y) => x - y)
  t.same(ids, Array.from({ length: 20 }, (_, i) => i + 1), 'every id once, no gaps')
  t.equal((await registry.find(7))?.load.id, 7)
  t.equal((await registry.list({ stream: 'a' })).length, 10)
})

t.test('load registry – transitions follow the lifecycle and survive races', async (t) => {
  const { nc, names } = await testBus(t)
  const registry = await LoadRegistry.bind(nc, names)
  const load = await registry.openLoad({ stream: 'p', mode: 'full' })
  await t.rejects(registry.transition('p', load.id, (l) => ({ ...l, state: 'reconciled' })), { code: 'SIS_BUS_LOAD_STATE' })
  const results = await Promise.all(Array.from({ length: 5 }, () => registry.transition('p', load.id, (l) => l.state === 'open' ? { ...l, state: 'sealed', batches: 1, rows: 1 } : undefined)))
  t.equal(results.filter((r) => r.changed).length, 1, 'exactly one racer seals')
  t.equal((await registry.get('p', load.id))?.load.state, 'sealed')
})

t.test('load registry – watch sees existing loads, then changes', async (t) => {
  const { nc, names } = await testBus(t)
  const registry = await LoadRegistry.bind(nc, names)
  const first = await registry.openLoad({ stream: 'p', mode: 'full' })
  const controller = new AbortController()
  const seen: string[] = []
  // the change is made only once the watch has given the existing record: made earlier, the
  // watch would start from the changed record alone (a KV watch gives each key's latest value)
  let sawExisting!: () => void
  const existingSeen = new Promise<void>((resolve) => { sawExisting = resolve })
  const watching = (async () => {
    for await (const load of registry.watch(controller.signal)) {
      seen.push(`${load.id}:${load.state}`)
      if (seen.length === 1) sawExisting()
      if (seen.length === 2) controller.abort()
    }
  })()
  await existingSeen
  await registry.transition('p', first.id, (l) => ({ ...l, state: 'abandoned' }))
  await watching
  t.same(seen, [`${first.id}:open`, `${first.id}:abandoned`])
})

/** Writes a key of the registry bucket straight through KV, as anyone with write access to the bucket could. */
async function forge (nc: import('nats').NatsConnection, bucket: string, key: string, value: unknown): Promise<void> {
  const kv = await nc.jetstream().views.kv(bucket, { bindOnly: true })
  await kv.put(key, new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value)))
}

function record (id: number, stream: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = new Date().toISOString()
  return { id, stream, mode: 'full', state: 'approved', openedAt: now, updatedAt: now, approvedBy: 'mallory', ...extra }
}

t.test('load registry – a record without the gateway\'s open record is untrusted: not returned, not listed, not watched, not changed', async (t) => {
  const { nc, names } = await testBus(t)
  const untrusted: string[] = []
  const registry = await LoadRegistry.bind(nc, names, { onUntrusted: (key, reason) => untrusted.push(`${key}: ${reason}`) })
  const real = await registry.openLoad({ stream: 'p', mode: 'full' })
  await registry.openLoad({ stream: 'p', mode: 'full' }) // id 2: the sequence is at 2
  // id 2 exists with its open record; id 1's record is replaced by a forged one with the same shape as a real one but another openedAt
  await forge(nc, names.loadsBucket, 'load.p.1', record(1, 'p'))
  await t.rejects(registry.get('p', real.id), { code: 'SIS_BUS_LOAD_UNTRUSTED', message: /opened a full load at/ }, 'a record that disagrees with its open record')
  await forge(nc, names.loadsBucket, 'load.q.2', record(2, 'q'))
  await t.rejects(registry.get('q', 2), { code: 'SIS_BUS_LOAD_UNTRUSTED', message: /no open record: the load did not come through the gateway's open path/ })
  t.same((await registry.list()).map((l) => `${l.stream}.${l.id}`), ['p.2'], 'only the trusted load is listed')
  await t.rejects(registry.transition('q', 2, (l) => ({ ...l, state: 'reconciled' })), { code: 'SIS_BUS_LOAD_UNTRUSTED' }, 'an untrusted record is never changed')
  t.ok(untrusted.some((u) => u.startsWith('load.q.2: no open record')), 'reported to the caller')
})

t.test('load registry – a load id above the sequence is untrusted even with a forged open record', async (t) => {
  const { nc, names } = await testBus(t)
  const registry = await LoadRegistry.bind(nc, names)
  const real = await registry.openLoad({ stream: 'p', mode: 'full' })
  const huge = 9_000_000_000
  await forge(nc, names.loadsBucket, `open.p.${huge}`, { id: huge, stream: 'p', mode: 'full', openedAt: '2026-01-01T00:00:00.000Z' })
  await forge(nc, names.loadsBucket, `load.p.${huge}`, record(huge, 'p', { openedAt: '2026-01-01T00:00:00.000Z' }))
  const verdict = await registry.check('p', huge)
  t.match(verdict, { status: 'untrusted', retryable: true, reason: /load id 9000000000 is above the registry's sequence \(1\)/ })
  const missing = await registry.check('p', huge + 1)
  t.match(missing, { status: 'unknown', reason: /above the registry's sequence/ }, 'no record, and an id no gateway handed out')
  t.equal(await registry.get('p', huge + 1), undefined, 'unknown, not untrusted: there is nothing to distrust')
  t.same(await registry.check('p', real.id).then((v) => v.status), 'trusted')
  // the sequence at the id itself is enough (the boundary)
  const next = await registry.openLoad({ stream: 'p', mode: 'full' })
  t.equal(next.id, 2)
  t.same((await registry.check('p', 2)).status, 'trusted')
  await forge(nc, names.loadsBucket, 'open.p.3', { id: 3, stream: 'p', mode: 'full', openedAt: '2026-01-01T00:00:00.000Z' })
  await forge(nc, names.loadsBucket, 'load.p.3', record(3, 'p', { openedAt: '2026-01-01T00:00:00.000Z' }))
  t.same((await registry.check('p', 3)).status, 'untrusted', 'one above the sequence')
})

t.test('load registry – malformed records and records under another load\'s key are untrusted', async (t) => {
  const { nc, names } = await testBus(t)
  const registry = await LoadRegistry.bind(nc, names)
  const a = await registry.openLoad({ stream: 'p', mode: 'full' })
  const b = await registry.openLoad({ stream: 'p', mode: 'full' })
  const original = (await registry.get('p', b.id))!.load
  await forge(nc, names.loadsBucket, `load.p.${a.id}`, { ...original, state: 'approved' })
  await t.rejects(registry.get('p', a.id), { code: 'SIS_BUS_LOAD_UNTRUSTED', message: /the record under load\.p\.1 describes load 2/ })
  await forge(nc, names.loadsBucket, `load.p.${b.id}`, { ...original, state: 'sealed', batches: 1e300, rows: 1 })
  await t.rejects(registry.get('p', b.id), { code: 'SIS_BUS_LOAD_UNTRUSTED', message: /malformed load record \(\/batches/ })
  await forge(nc, names.loadsBucket, `load.p.${b.id}`, 'not json')
  await t.rejects(registry.get('p', b.id), { code: 'SIS_BUS_LOAD_UNTRUSTED', message: /not JSON/ })
  await forge(nc, names.loadsBucket, `load.p.${b.id}`, { ...original, mode: 'incremental' })
  await t.rejects(registry.get('p', b.id), { code: 'SIS_BUS_LOAD_UNTRUSTED', message: /the record says incremental load/ })
})

t.test('load registry – watch skips untrusted records and goes on', async (t) => {
  const { nc, names } = await testBus(t)
  const registry = await LoadRegistry.bind(nc, names)
  const first = await registry.openLoad({ stream: 'p', mode: 'full' })
  await forge(nc, names.loadsBucket, 'load.p.77', record(77, 'p'))
  const second = await registry.openLoad({ stream: 'p', mode: 'full' })
  const controller = new AbortController()
  const seen: number[] = []
  for await (const load of registry.watch(controller.signal)) {
    seen.push(load.id)
    if (load.id === second.id) controller.abort()
  }
  t.same(seen, [first.id, second.id], 'the forged load 77 never reaches a watcher')
})

t.test('load registry – a change may not rewrite what the gateway opened', async (t) => {
  const { nc, names } = await testBus(t)
  const registry = await LoadRegistry.bind(nc, names)
  const load = await registry.openLoad({ stream: 'p', mode: 'incremental' })
  await t.rejects(registry.transition('p', load.id, (l) => ({ ...l, mode: 'full' })), { code: 'SIS_BUS_LOAD_STATE', message: /may not alter/ })
})
