import t from 'tap'
import { eventually } from '@sisporta/testkit'
import { createLoadClock, createReconcilerWorker, reconcileLoad, type LoadClock } from '@sisporta/reconciler'
import { countRows, insertRows, recordBatches, sealedLoad, setup } from './setup.js'

const MINUTE = 60_000
/** A reconciler whose wall clock runs 20 minutes ahead of the gateway's (or behind it). */
const AHEAD = (): number => Date.now() + 20 * MINUTE
const BEHIND = (): number => Date.now() - 20 * MINUTE

/** A load clock on a monotonic time the test moves by hand. */
function handClock (): { clock: LoadClock, advance (ms: number): void } {
  let now = 1_000_000
  return { clock: createLoadClock(() => now), advance: (ms) => { now += ms } }
}

t.test('reconciler clock – a reconciler 20 minutes ahead does not abandon a load opened just now (open timeout 10 min)', async (t) => {
  const { registry, sql, deps } = await setup(t, { settings: { openTimeoutSec: 600 } })
  const load = await registry.openLoad({ stream: 'products', mode: 'full' })
  await insertRows(sql, 'products', [['a', null]])
  const skewed = { ...deps, now: AHEAD }
  t.equal((await reconcileLoad(skewed, load))?.state, 'open', 'the fresh load stays open')
  t.equal((await reconcileLoad(skewed, load))?.state, 'open', 'and stays open when examined again')
  t.equal(await countRows(sql, 'products'), 1, 'nothing deleted')
})

t.test('reconciler clock – a load watched for the open timeout is abandoned at exactly that time, whether the wall clock runs ahead or behind', async (t) => {
  const { registry, deps } = await setup(t, { settings: { openTimeoutSec: 600 } })
  for (const [name, now] of [['ahead', AHEAD], ['behind', BEHIND]] as const) {
    const hand = handClock()
    const skewed = { ...deps, now, clock: hand.clock }
    const load = await registry.openLoad({ stream: 'products', mode: 'full' })
    t.equal((await reconcileLoad(skewed, load))?.state, 'open', `${name}: first seen, open`)
    hand.advance(600_000 - 1)
    t.equal((await reconcileLoad(skewed, load))?.state, 'open', `${name}: 1 ms before the timeout, still open`)
    hand.advance(1)
    t.match(await reconcileLoad(skewed, load), { state: 'abandoned', reason: /^not sealed within 600 s of being opened \(SISPORTA_OPEN_TIMEOUT, counted from when the reconciler saw it open\); nothing deleted$/ }, `${name}: abandoned at the timeout`)
  }
})

t.test('reconciler clock – a reconciler 20 minutes ahead does not fail a load sealed just now; one still missing batches after the apply timeout fails', async (t) => {
  const { registry, sql, deps } = await setup(t, { settings: { applyTimeoutSec: 600 } })
  const hand = handClock()
  const load = await sealedLoad(registry, 'products', 'full', { batches: 2, rows: 20 })
  await recordBatches(sql, 'products', load.id, { 0: 10 })
  const skewed = { ...deps, now: AHEAD, clock: hand.clock }
  t.equal((await reconcileLoad(skewed, load))?.state, 'sealed', 'the fresh sealed load waits for its batch')
  hand.advance(600_000 - 1)
  t.equal((await reconcileLoad(skewed, load))?.state, 'sealed', '1 ms before the apply timeout it still waits')
  hand.advance(1)
  t.match(await reconcileLoad(skewed, load), { state: 'failed', reason: /^batch 1 \(1 of 2\) not applied within 600 s of sealing \(SISPORTA_APPLY_TIMEOUT, counted from when the reconciler saw it sealed\); nothing deleted$/ })

  // the default clock too: nothing but the reconciler's own monotonic time counts
  const fresh = await sealedLoad(registry, 'products', 'full', { batches: 2, rows: 20 })
  t.equal((await reconcileLoad({ ...deps, now: AHEAD }, fresh))?.state, 'sealed', 'with the default clock as well')
})

t.test('reconciler clock – the apply timeout counts from when the load was seen sealed, not from when it was seen open', async (t) => {
  const { registry, sql, deps } = await setup(t, { settings: { openTimeoutSec: 600, applyTimeoutSec: 600 } })
  const hand = handClock()
  const skewed = { ...deps, now: AHEAD, clock: hand.clock }
  const load = await registry.openLoad({ stream: 'products', mode: 'full' })
  t.equal((await reconcileLoad(skewed, load))?.state, 'open')
  hand.advance(599_000)
  const { load: sealed } = await registry.transition('products', load.id, (l) => ({ ...l, state: 'sealed', sealedAt: new Date().toISOString(), batches: 2, rows: 20 }))
  await recordBatches(sql, 'products', load.id, { 0: 10 })
  t.equal((await reconcileLoad(skewed, sealed))?.state, 'sealed', 'just sealed: waits')
  hand.advance(599_000)
  t.equal((await reconcileLoad(skewed, sealed))?.state, 'sealed', '599 s after the seal (1198 s after the open) it still waits')
  hand.advance(1000)
  t.equal((await reconcileLoad(skewed, sealed))?.state, 'failed', 'failed 600 s after the seal')
})

t.test('reconciler clock – a restart restarts the count: a timeout comes late, never early', async (t) => {
  const { registry, deps } = await setup(t, { settings: { openTimeoutSec: 600 } })
  const before = handClock()
  const load = await registry.openLoad({ stream: 'products', mode: 'full' })
  t.equal((await reconcileLoad({ ...deps, clock: before.clock }, load))?.state, 'open')
  before.advance(599_000)
  const after = handClock()
  t.equal((await reconcileLoad({ ...deps, clock: after.clock }, load))?.state, 'open', 'a new process has watched it for 0 s')
  after.advance(600_000)
  t.equal((await reconcileLoad({ ...deps, clock: after.clock }, load))?.state, 'abandoned', 'abandoned once the new process watched it for the timeout')
})

t.test('reconciler clock – the worker of a reconciler 20 minutes ahead abandons a load once its own clock says the open timeout passed', async (t) => {
  const { registry, deps, sql } = await setup(t, { settings: { openTimeoutSec: 2 } })
  await insertRows(sql, 'products', [['kept', null]])
  const worker = createReconcilerWorker({ ...deps, now: AHEAD, sweepIntervalMs: 100 })
  const opened = performance.now()
  const load = await registry.openLoad({ stream: 'products', mode: 'full' })
  await worker.start()
  t.teardown(async () => { await worker.stop() })
  const abandoned = await eventually(async () => {
    const entry = await registry.get('products', load.id)
    return entry?.load.state === 'abandoned' ? performance.now() : undefined
  }, { what: 'the load to be abandoned', timeoutMs: 120_000 })
  t.ok(abandoned - opened >= 2000, `abandoned ${Math.round(abandoned - opened)} ms after it was opened: not before the 2 s timeout, whatever the 20 minutes of skew`)
  t.equal(await countRows(sql, 'products'), 1, 'nothing deleted')
})
