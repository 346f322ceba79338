import t from 'tap'
import type { NatsConnection } from 'nats'
import { testBus } from '@sisporta/testkit'
import { LoadRegistry } from '@sisporta/nats'

/**
 * A load's `reload` is the gateway's word, like its mode: the reconciler deletes a diffed load's
 * marked rows only, and a rows load's every row it did not write, so a record claiming another
 * kind than the gateway's open record could make a load delete what it must not.
 */

/** Writes a key of the registry bucket straight through KV, as anyone with write access to the bucket could. */
async function forge (nc: NatsConnection, bucket: string, key: string, value: unknown): Promise<void> {
  const kv = await nc.jetstream().views.kv(bucket, { bindOnly: true })
  await kv.put(key, new TextEncoder().encode(JSON.stringify(value)))
}

t.test('load registry – a record whose reload differs from its open record is untrusted, both ways', async (t) => {
  const { nc, names } = await testBus(t)
  const untrusted: string[] = []
  const registry = await LoadRegistry.bind(nc, names, { onUntrusted: (key, reason) => untrusted.push(`${key}: ${reason}`) })
  const rows = await registry.openLoad({ stream: 'p', mode: 'full' })
  const diffed = await registry.openLoad({ stream: 'q', mode: 'full', reload: 'diff' })
  t.equal(diffed.reload, 'diff')
  t.equal((await registry.get('q', diffed.id))?.load.reload, 'diff', 'the real diffed record is trusted')

  // a rows load turned into a diffed one: its reconciliation would delete only rows marked −id
  await forge(nc, names.loadsBucket, `load.p.${rows.id}`, { ...rows, reload: 'diff' })
  t.match(await registry.check('p', rows.id), { status: 'untrusted', retryable: false, reason: 'the record says reload diff, the gateway opened the load with reload rows' })
  // a diffed load turned into a rows one: its reconciliation would delete every row it found equal
  const { reload: _, ...withoutReload } = diffed
  await forge(nc, names.loadsBucket, `load.q.${diffed.id}`, { ...withoutReload, state: 'sealed', batches: 0, rows: 0 })
  await t.rejects(registry.get('q', diffed.id), { code: 'SIS_BUS_LOAD_UNTRUSTED', message: /the record says reload rows, the gateway opened the load with reload diff/ })

  t.same(await registry.list(), [], 'neither is listed')
  await t.rejects(registry.transition('p', rows.id, (l) => ({ ...l, state: 'abandoned' })), { code: 'SIS_BUS_LOAD_UNTRUSTED' }, 'nor changed')
  t.ok(untrusted.some((u) => u.startsWith(`load.p.${rows.id}: the record says reload diff`)), 'reported')
  t.ok(untrusted.some((u) => u.startsWith(`load.q.${diffed.id}: the record says reload rows`)), 'reported')

  // a fresh reader (no open record cached) refuses them the same way
  const fresh = await LoadRegistry.bind(nc, names)
  t.equal((await fresh.check('p', rows.id)).status, 'untrusted')
  t.equal((await fresh.check('q', diffed.id)).status, 'untrusted')
})

t.test('load registry – a change may not alter a load\'s reload', async (t) => {
  const { nc, names } = await testBus(t)
  const registry = await LoadRegistry.bind(nc, names)
  const rows = await registry.openLoad({ stream: 'p', mode: 'full' })
  await t.rejects(registry.transition('p', rows.id, (l) => ({ ...l, reload: 'diff' })), { code: 'SIS_BUS_LOAD_STATE', message: /may not alter its id, stream, mode, reload or opening time/ })
  const diffed = await registry.openLoad({ stream: 'q', mode: 'full', reload: 'diff' })
  await t.rejects(registry.transition('q', diffed.id, ({ reload: _, ...l }) => ({ ...l, state: 'sealed', batches: 0, rows: 0 })), { code: 'SIS_BUS_LOAD_STATE', message: /may not alter/ })
  t.same((await registry.get('q', diffed.id))?.load, diffed, 'unchanged')
})
