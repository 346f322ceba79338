import t from 'tap'
import { headers } from 'nats'
import { BatchHeaders, type LoadMode, type LoadRecord, type LoadState } from '@sisporta/contracts'
import { loadKey, openKey, type LoadRegistry } from '@sisporta/nats'
import { createRetentionWorker, loadsToPrune, ORPHAN_OPEN_RECORD_AGE_MS, removeOrphanOpenRecords, sweepRetention } from '@sisporta/reconciler'
import { recordBatches, setup } from './setup.js'

const DAY = 86_400_000

/** The states a load goes through to reach `to`, as gateway and reconciler move it. */
const PATH: Record<string, LoadState[]> = {
  open: [],
  sealed: ['sealed'],
  applied: ['sealed', 'applied'],
  reconciled: ['sealed', 'applied', 'reconciled'],
  failed: ['failed'],
  abandoned: ['abandoned'],
  discarded: ['discarded'],
  held: ['sealed', 'applied', 'held']
}

async function loadIn (registry: LoadRegistry, stream: string, mode: LoadMode, to: keyof typeof PATH): Promise<LoadRecord> {
  let load = await registry.openLoad({ stream, mode, openedBy: 'test' })
  for (const state of PATH[to]!) {
    load = (await registry.transition(stream, load.id, (l) => ({ ...l, state, ...(state === 'reconciled' ? { reconciledAt: new Date().toISOString() } : {}) }))).load
  }
  return load
}

function record (id: number, mode: LoadMode, state: LoadState, updatedAt: number): LoadRecord {
  const at = new Date(updatedAt).toISOString()
  return { id, stream: 'products', mode, state, openedAt: at, updatedAt: at }
}

t.test('retention – loadsToPrune keeps the newest K, the last successes and every unfinished load', async (t) => {
  const now = Date.parse('2026-12-01T00:00:00.000Z')
  const old = now - 40 * DAY
  const loads = [
    record(1, 'full', 'reconciled', old),
    record(2, 'incremental', 'applied', old),
    record(3, 'full', 'failed', old),
    record(4, 'full', 'reconciled', old),
    record(5, 'incremental', 'applied', old),
    record(6, 'full', 'held', old),
    record(7, 'full', 'open', old),
    record(8, 'full', 'abandoned', old),
    record(9, 'full', 'failed', old)
  ]
  const policy = { maxAgeSec: 30 * 86400, keep: 2 }
  t.same(loadsToPrune(loads, policy, now).map((l) => l.id), [1, 2, 3], 'newest 2 (8, 9), last reconciled (4), last incremental (5), held and open (6, 7) kept')
  const mixed = [record(1, 'incremental', 'failed', old), record(2, 'incremental', 'failed', old), record(3, 'full', 'failed', old), record(4, 'full', 'failed', old)]
  t.same(loadsToPrune([...mixed, record(5, 'full', 'failed', old)], { ...policy, keep: 1 }, now).map((l) => l.id), [1, 3, 4], 'the newest load of each mode (2, 5) is kept')
  t.same(loadsToPrune(loads, { ...policy, keep: 0 }, now).map((l) => l.id), [1, 2, 3, 8], 'keep is at least 1')
  t.same(loadsToPrune(loads, { ...policy, maxAgeSec: 0 }, now), [], 'maxAge 0: retention off')
  t.same(loadsToPrune(loads, policy, old + 30 * DAY).map((l) => l.id), [], 'ended exactly maxAge ago: kept')
  t.same(loadsToPrune(loads, policy, old + 30 * DAY + 1).map((l) => l.id), [1, 2, 3], 'a millisecond more: removed')
})

t.test('retention – a sweep removes old final loads with their ledger rows, and nothing else', async (t) => {
  const env = await setup(t)
  const { registry, sql } = env
  const p = {
    reconciledOld: await loadIn(registry, 'products', 'full', 'reconciled'),
    failed: await loadIn(registry, 'products', 'full', 'failed'),
    reconciledNewest: await loadIn(registry, 'products', 'full', 'reconciled'),
    abandoned: await loadIn(registry, 'products', 'full', 'abandoned'),
    open: await loadIn(registry, 'products', 'full', 'open'),
    held: await loadIn(registry, 'products', 'full', 'held'),
    failed2: await loadIn(registry, 'products', 'full', 'failed'),
    discarded: await loadIn(registry, 'products', 'full', 'discarded')
  }
  const c = {
    incOld: await loadIn(registry, 'customers', 'incremental', 'applied'),
    incNewest: await loadIn(registry, 'customers', 'incremental', 'applied'),
    failed: await loadIn(registry, 'customers', 'full', 'failed'),
    failed2: await loadIn(registry, 'customers', 'full', 'failed'),
    failed3: await loadIn(registry, 'customers', 'full', 'failed')
  }
  for (const load of Object.values(p)) await recordBatches(sql, 'products', load.id, { 0: 10, 1: 10 })
  for (const load of Object.values(c)) await recordBatches(sql, 'customers', load.id, { 0: 5 })
  // a part of a bisected batch (a newer bookkeeping table, when migrate made it)
  const [parts] = await sql.query("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sisporta_batch_parts'") as unknown as [Array<{ n: number }>]
  const hasParts = Number(parts[0]!.n) === 1
  if (hasParts) await sql.query("INSERT INTO sisporta_batch_parts (stream, load_id, batch_no, part, row_count) VALUES ('products', ?, 0, 'rows 0-4', 5), ('products', ?, 0, 'rows 0-4', 5)", [p.reconciledOld.id, p.reconciledNewest.id])
  // a dead letter of an old failed load: it may still be replayed into it, so the load stays
  const h = headers()
  h.set(BatchHeaders.Stream, 'customers')
  h.set(BatchHeaders.Load, String(c.failed.id))
  h.set(BatchHeaders.Batch, '0')
  h.set(BatchHeaders.Reason, 'test')
  await env.nc.jetstream().publish(env.names.dlqSubject('customers'), new Uint8Array(0), { headers: h })
  const ledger = async (): Promise<string[]> => {
    const [rows] = await sql.query('SELECT stream, load_id, COUNT(*) AS n FROM sisporta_batches GROUP BY stream, load_id ORDER BY stream, load_id')
    return (rows as Array<{ stream: string, load_id: string, n: number }>).map((r) => `${r.stream}/${r.load_id}/${r.n}`)
  }
  const before = await ledger()
  const policy = { maxAgeSec: 30 * 86400, keep: 2 }
  const deps = { nc: env.nc, names: env.names, registry, db: env.db, policy, log: env.log }

  const recent = await sweepRetention(deps)
  t.same(recent, { loads: {}, ledgerRows: 0, openRecordsKept: 0, orphanOpenRecords: 0 }, 'loads that just ended are all kept')
  t.same(await ledger(), before)

  const stopped = await sweepRetention({ ...deps, now: () => Date.now() + 31 * DAY, signal: AbortSignal.abort() })
  t.same(stopped, { loads: {}, ledgerRows: 0, openRecordsKept: 0, orphanOpenRecords: 0 }, 'a stopped pass removes nothing more')

  const report = await sweepRetention({ ...deps, now: () => Date.now() + 31 * DAY })
  t.same(report.loads, {
    products: [p.reconciledOld.id, p.failed.id, p.abandoned.id],
    customers: [c.incOld.id]
  }, 'products keeps its newest 2, its newest reconciled load, the open and the held one; customers its newest 2, its newest incremental and the failed load with a dead letter')
  t.equal(report.ledgerRows, 3 * 2 + 1 + (hasParts ? 1 : 0))
  t.same((await registry.list({ stream: 'products' })).map((l) => l.id), [p.reconciledNewest.id, p.open.id, p.held.id, p.failed2.id, p.discarded.id])
  t.same((await registry.list({ stream: 'customers' })).map((l) => l.id), [c.incNewest.id, c.failed.id, c.failed2.id, c.failed3.id])
  const pruned = new Set([p.reconciledOld.id, p.failed.id, p.abandoned.id, c.incOld.id])
  if (hasParts) {
    const [left] = await sql.query('SELECT load_id FROM sisporta_batch_parts') as unknown as [Array<{ load_id: string }>]
    t.same(left.map((r) => Number(r.load_id)), [p.reconciledNewest.id], 'parts of the removed loads deleted too')
  }
  t.same(await ledger(), before.filter((row) => !pruned.has(Number(row.split('/')[1]))), 'ledger rows of the removed loads only')

  const kv = await env.nc.jetstream().views.kv(env.names.loadsBucket, { bindOnly: true })
  for (const id of [p.reconciledOld.id, p.failed.id]) {
    t.equal((await registry.check('products', id)).status, 'unknown', `load ${id} is unknown now (a late batch of it is refused)`)
    t.not((await kv.get(`open.products.${id}`))?.operation, 'PUT', `open record of ${id} removed`)
  }
  t.equal((await registry.check('products', p.reconciledNewest.id)).status, 'trusted', 'what is kept is still trusted (its open record is there)')
  t.ok((await kv.get('seq'))?.operation === 'PUT' && (await kv.get('newest.products')) === null, 'the sequence is kept')

  const again = await sweepRetention({ ...deps, now: () => Date.now() + 31 * DAY })
  t.same(again, { loads: {}, ledgerRows: 0, openRecordsKept: 0, orphanOpenRecords: 0 }, 'a second pass finds nothing more')
  const next = await registry.openLoad({ stream: 'products', mode: 'full' })
  t.ok(next.id > c.failed3.id, 'load ids are never handed out twice')
})

t.test('retention – a failed pass is logged and tried again, never thrown', async (t) => {
  const env = await setup(t)
  let fail = true
  const registry = new Proxy(env.registry, {
    get (target, property) {
      const value = Reflect.get(target, property, target) as unknown
      if (property === 'list' && fail) return async () => { throw new Error('registry unreachable') }
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  const worker = createRetentionWorker({ nc: env.nc, names: env.names, registry, db: env.db, policy: { maxAgeSec: 3600, keep: 1 }, log: env.log, intervalMs: 50 })
  await worker.start()
  t.teardown(() => worker.stop())
  const { eventually } = await import('@sisporta/testkit')
  await eventually(() => env.sink.lines.find((l) => l.code === 'SIS_RECON_RETENTION' && l.level === 'warn'), { what: 'the failed pass logged' })
  fail = false
  t.same(await worker.sweep(), { loads: {}, ledgerRows: 0, openRecordsKept: 0, orphanOpenRecords: 0 }, 'the next pass works')
})

t.test('retention – open records whose load record is gone are removed once a day old, never younger ones nor any with its load', async (t) => {
  const env = await setup(t)
  const { registry, nc, names } = env
  const kv = await nc.jetstream().views.kv(names.loadsBucket, { bindOnly: true })
  // the load that stays is the older one: its open record is older than the orphan's
  const kept = await loadIn(registry, 'products', 'full', 'reconciled')
  const gone = await loadIn(registry, 'products', 'full', 'failed')
  // a pass under an identity that could not remove open records left this one behind
  await kv.delete(loadKey('products', gone.id))
  const opened = Date.parse(gone.openedAt)
  const openKeys = async (): Promise<string[]> => { const keys: string[] = []; for await (const k of await kv.keys('open.>')) keys.push(k); return keys.sort() }

  t.equal(await removeOrphanOpenRecords(kv, opened + ORPHAN_OPEN_RECORD_AGE_MS), 0, 'exactly a day old: still left (a load may be being opened)')
  t.same(await openKeys(), [openKey('products', gone.id), openKey('products', kept.id)].sort())
  t.equal(await removeOrphanOpenRecords(kv, opened + ORPHAN_OPEN_RECORD_AGE_MS + 1), 1, 'a millisecond more: removed')
  t.same(await openKeys(), [openKey('products', kept.id)], 'the open record of a load that is still there stays, however old')
  const check = await registry.check('products', kept.id)
  t.equal(check.status, 'trusted', 'its load is still trusted')
})
