import t from 'tap'
import { moveLoad } from '@sisporta/reconciler'
import { sealedLoad, setup } from './setup.js'

t.test('transition logs – held, failed and abandoned loads are warnings, the other changes info', async (t) => {
  const env = await setup(t)
  const log = env.log.child({ test: true })
  const a = await sealedLoad(env.registry, 'products', 'full', { batches: 1, rows: 1 })
  const applied = await moveLoad(env.deps, a, 'applied', { appliedBatches: 1, appliedRows: 1 }, log)
  await moveLoad(env.deps, applied!, 'held', { reason: 'would delete too much' }, log)
  const b = await sealedLoad(env.registry, 'products', 'full', { batches: 1, rows: 1 })
  await moveLoad(env.deps, b, 'failed', { reason: 'batches missing' }, log)
  const c = await env.registry.openLoad({ stream: 'products', mode: 'full' })
  await moveLoad(env.deps, c, 'abandoned', { reason: 'never sealed' }, log)
  const level = (msg: string): unknown => env.sink.lines.find((l) => l.msg === msg)?.level
  t.equal(level('load applied'), 'info')
  t.equal(level('load held'), 'warn')
  t.equal(level('load failed'), 'warn')
  t.equal(level('load abandoned'), 'warn')
  t.match(env.sink.lines.find((l) => l.msg === 'load held'), { from: 'applied', to: 'held', reason: 'would delete too much' })
})
