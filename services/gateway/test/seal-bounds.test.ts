import t from 'tap'
import type { LoadRecord } from '@sisporta/contracts'
import { errorOf, startGateway, type Gateway } from './fixture.js'

async function seal (gw: Gateway, load: { id: number, stream: string }, body: unknown) {
  return await gw.app.inject({ method: 'POST', url: `/v1/streams/${load.stream}/loads/${load.id}/seal`, headers: gw.auth(), payload: body as object })
}

const batchOf = (from: number, n: number): object => ({
  columns: ['sku', 'qty'],
  rows: Array.from({ length: n }, (_, i) => [`S${from + i}`, i])
})

t.test('seal – counts beyond 2^31−1 batches or 2^53−1 rows are refused (400), at the boundary accepted', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad()
  for (const body of [{ batches: 1e300, rows: 1e300 }, { batches: 2147483648, rows: 2147483648 }, { batches: 1, rows: 9007199254740992 }, { batches: -1, rows: 0 }]) {
    t.match(errorOf(t, await seal(gw, load, body), 400, 'SIS_GW_INVALID_REQUEST').message, /^body\/(batches|rows)/, JSON.stringify(body))
  }
  t.equal((await gw.loads.get('products', load.id))?.load.state, 'open', 'nothing sealed')
  const atLimit = await seal(gw, load, { batches: 2147483647, rows: 9007199254740991 })
  t.equal(atLimit.statusCode, 200, atLimit.body)
  t.match((atLimit.json() as { load: LoadRecord }).load, { state: 'sealed', batches: 2147483647, rows: 9007199254740991 })
})

t.test('seal – counts that contradict what this gateway accepted are refused (409), the load stays open', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad()
  t.equal((await gw.postBatch(load, 0, batchOf(0, 10))).statusCode, 202)
  t.equal((await gw.postBatch(load, 4, batchOf(10, 2))).statusCode, 202)
  t.equal((await gw.postBatch(load, 4, batchOf(10, 2))).statusCode, 202, 'a retry of batch 4 (counted once)')
  t.match(errorOf(t, await seal(gw, load, { batches: 4, rows: 100 }), 409, 'SIS_GW_SEAL_INVALID').message, /batch 4 was accepted, but the seal states 4 batches \(0\.\.3\)/)
  t.match(errorOf(t, await seal(gw, load, { batches: 5, rows: 11 }), 409, 'SIS_GW_SEAL_INVALID').message, /the 2 batches accepted by this gateway hold 12 rows, but the seal states 11/)
  t.match(errorOf(t, await seal(gw, load, { batches: 5, rows: 3 }), 409, 'SIS_GW_SEAL_INVALID').message, /5 batches cannot hold 3 rows/)
  t.equal((await gw.loads.get('products', load.id))?.load.state, 'open', 'still open: the extractor can seal it correctly')
  const ok = await seal(gw, load, { batches: 5, rows: 12 })
  t.equal(ok.statusCode, 200, 'the boundary: exactly the rows and one past the highest batch')
  const empty = await gw.openLoad()
  t.equal((await seal(gw, empty, { batches: 0, rows: 0 })).statusCode, 200, 'an empty load seals with 0 and 0')
})
