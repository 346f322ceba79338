import t from 'tap'
import { testBus, randomId } from '@sisporta/testkit'
import { decideSettlement } from '../src/index.js'

// In a NATS cluster a node may die mid-load: until the registry's and the streams' survivors
// elect new leaders, a request the persister makes (reading the load registry) times out or
// finds no responder. That says nothing about the batch: it is handed back, never dead-lettered
// (tests/e2e/faults-nats-cluster.test.ts is the whole story). Real errors of a real connection.

t.test('settle – NATS not answering (timeout, no responders) is transient: the batch is handed back, not dead-lettered', async (t) => {
  const { nc } = await testBus(t)
  const silent = `t.silent.${randomId()}`
  const sub = nc.subscribe(silent) // listens, never answers
  t.teardown(() => { sub.unsubscribe() })
  await nc.flush()
  const timeout = await nc.request(silent, new Uint8Array(), { timeout: 100 }).then(() => undefined, (err: unknown) => err)
  const noResponders = await nc.request(`t.nobody.${randomId()}`, new Uint8Array(), { timeout: 5000 }).then(() => undefined, (err: unknown) => err)
  t.match(timeout, { code: 'TIMEOUT' }, 'a real request timeout')
  t.match(noResponders, { code: '503' }, 'a real "no responders"')
  t.same(decideSettlement(timeout, 1, 5), { action: 'nak', delayMs: 1000 }, 'timeout: handed back')
  t.same(decideSettlement(noResponders, 2, 5), { action: 'nak', delayMs: 2000 }, 'no responders: handed back')
  t.equal(decideSettlement(timeout, 5, 5).action, 'dead-letter', 'still bounded by SISPORTA_MAX_DELIVER')
})
