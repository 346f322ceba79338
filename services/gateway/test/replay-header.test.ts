import t from 'tap'
import { BatchHeaders } from '@sisporta/contracts'
import { startGateway } from './fixture.js'

// `Sisporta-Replay` makes the persister apply a batch into a load that FAILED (a replayed dead
// letter, docs/dead-letters.md). Only the operator's NATS identity may set it: a client of the
// gateway must never get it (or any header of its own) onto the bus, or it could write into
// loads that ended.

t.test('batch – headers a client sends (Sisporta-Replay, Sisporta-Batch-Rows, Sisporta-Load…) never reach the bus', async (t) => {
  const gw = await startGateway(t)
  const load = await gw.openLoad()
  const forged = {
    [BatchHeaders.Replay]: '1',
    [BatchHeaders.BatchRows]: '99',
    [BatchHeaders.Load]: '999999',
    [BatchHeaders.Batch]: '77',
    [BatchHeaders.Reason]: 'forged',
    'nats-msg-id': 'forged-id'
  }
  const res = await gw.postBatch(load, 0, { columns: ['sku', 'name'], rows: [['A-1', 'x']] }, forged)
  t.equal(res.statusCode, 202, res.body)
  const msg = await gw.jsm.streams.getMessage(gw.names.batchStream, { last_by_subj: gw.names.batchSubject('products') })
  const names = [...msg.header.keys()].map((k) => k.toLowerCase()).sort()
  t.same(names, ['Nats-Expected-Stream', BatchHeaders.MsgId, BatchHeaders.Batch, BatchHeaders.Load, BatchHeaders.Mode, BatchHeaders.Rows, BatchHeaders.Stream].map((k) => k.toLowerCase()).sort(), 'only the headers the gateway sets itself')
  t.equal(msg.header.get(BatchHeaders.Replay), '', 'no Sisporta-Replay')
  t.equal(msg.header.get(BatchHeaders.Load), String(load.id), 'the load of the URL, not of a header')
  t.equal(msg.header.get(BatchHeaders.Batch), '0')
  t.equal(msg.header.get(BatchHeaders.MsgId), `products.${load.id}.0`)
})
