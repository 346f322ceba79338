import t from 'tap'
import type { LoadRecord } from '@sisporta/contracts'
import { errorOf, startGateway, type Gateway } from './fixture.js'

// The seal's `truncatedFractions` (issue 12, defect 4): datetime values the source cut to the
// microsecond as `fraction: truncate` asks, counted by the extractor and kept in the load record.

async function seal (gw: Gateway, load: { id: number, stream: string }, body: unknown) {
  return await gw.app.inject({ method: 'POST', url: `/v1/streams/${load.stream}/loads/${load.id}/seal`, headers: gw.auth(), payload: body as object })
}

const loadOf = (reply: { json: () => unknown }): LoadRecord => (reply.json() as { load: LoadRecord }).load

t.test('seal – the count of cut fractions is stored in the load record; the same seal again is a retry', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad()
  const first = await seal(gw, load, { batches: 2, rows: 1500, truncatedFractions: 12 })
  t.equal(first.statusCode, 200, first.body)
  t.match(loadOf(first), { state: 'sealed', batches: 2, rows: 1500, truncatedFractions: 12 })
  t.equal((await gw.loads.get('products', load.id))?.load.truncatedFractions, 12, 'in the registry')
  const again = await seal(gw, load, { batches: 2, rows: 1500, truncatedFractions: 12 })
  t.equal(again.statusCode, 200)
  t.same(loadOf(again), loadOf(first), 'the retry changes nothing')
})

t.test('seal – a repeated seal with another count of cut fractions is a different seal (409), the record keeps the first', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad()
  t.equal((await seal(gw, load, { batches: 1, rows: 10, truncatedFractions: 3 })).statusCode, 200)
  t.match(errorOf(t, await seal(gw, load, { batches: 1, rows: 10, truncatedFractions: 4 }), 409, 'SIS_GW_SEAL_MISMATCH').message,
    /already sealed with 3 datetime values cut to the microsecond, not 4/)
  t.match(errorOf(t, await seal(gw, load, { batches: 1, rows: 10 }), 409, 'SIS_GW_SEAL_MISMATCH').message,
    /already sealed with 3 datetime values cut to the microsecond, not 0/, 'leaving it out states none')
  t.equal((await gw.loads.get('products', load.id))?.load.truncatedFractions, 3)

  const plain = await gw.openLoad()
  t.equal((await seal(gw, plain, { batches: 1, rows: 10 })).statusCode, 200)
  t.match(errorOf(t, await seal(gw, plain, { batches: 1, rows: 10, truncatedFractions: 1 }), 409, 'SIS_GW_SEAL_MISMATCH').message, /not 1$/)
  t.equal((await seal(gw, plain, { batches: 1, rows: 10, truncatedFractions: 0 })).statusCode, 200, 'stating 0 is the same as leaving it out')
})

t.test('seal – a count of 0 is not written; beyond 2^53−1 or negative is refused (400), at the boundary accepted', async (t) => {
  const gw = await startGateway(t)
  const zero = await gw.openLoad()
  const none = await seal(gw, zero, { batches: 0, rows: 0, truncatedFractions: 0 })
  t.equal(none.statusCode, 200, none.body)
  t.notOk('truncatedFractions' in loadOf(none), 'none cut: the record has no count')

  const load = await gw.openLoad()
  for (const truncatedFractions of [9007199254740992, 1e300, -1, 1.5, '12']) {
    t.match(errorOf(t, await seal(gw, load, { batches: 1, rows: 1, truncatedFractions }), 400, 'SIS_GW_INVALID_REQUEST').message, /^body\/truncatedFractions/, String(truncatedFractions))
  }
  t.equal((await gw.loads.get('products', load.id))?.load.state, 'open', 'nothing sealed')
  const atLimit = await seal(gw, load, { batches: 1, rows: 1, truncatedFractions: 9007199254740991 })
  t.equal(atLimit.statusCode, 200, atLimit.body)
  t.equal(loadOf(atLimit).truncatedFractions, 9007199254740991)
})
