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
  const watching = (async () => {
    for await (const load of registry.watch(controller.signal)) {
      seen.push(`${load.id}:${load.state}`)
      if (seen.length === 2) controller.abort()
    }
  })()
  await registry.transition('p', first.id, (l) => ({ ...l, state: 'abandoned' }))
  await watching
  t.same(seen, [`${first.id}:open`, `${first.id}:abandoned`])
})
