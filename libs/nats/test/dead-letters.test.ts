import t from 'tap'
import { headers as natsHeaders, type NatsConnection } from 'nats'
import { BatchHeaders, type BusNames } from '@sisporta/contracts'
import { testBus } from '@sisporta/testkit'
import { LoadRegistry, dropDeadLetters, listDeadLetters, replayDeadLetters, showDeadLetter } from '@sisporta/nats'

// The dead-letter library the CLI and the console share, against a real NATS: paging and
// filters without reading one message per sequence, show with its body, replay refusals by load
// state and by a newer full load, replay headers, drop outcomes.

async function letter (nc: NatsConnection, names: BusNames, stream: string, loadId: number, batch: number, extra: Record<string, string> = {}): Promise<number> {
  const h = natsHeaders()
  h.set(BatchHeaders.Stream, stream)
  h.set(BatchHeaders.Load, String(loadId))
  h.set(BatchHeaders.Batch, String(batch))
  h.set(BatchHeaders.Mode, 'full')
  h.set(BatchHeaders.Rows, '1')
  h.set(BatchHeaders.Reason, `reason ${batch}`)
  h.set(BatchHeaders.Deliveries, '1')
  for (const [k, v] of Object.entries(extra)) h.set(k, v)
  return (await nc.jetstream().publish(names.dlqSubject(stream), new TextEncoder().encode(JSON.stringify({ columns: ['id'], rows: [[batch]] })), { headers: h })).seq
}

t.test('dead letters – list pages through a stream\'s letters, filters by load, show gives the body and the bisection headers', async (t) => {
  const { nc, names } = await testBus(t)
  for (let b = 0; b < 7; b++) await letter(nc, names, b % 2 === 0 ? 'a' : 'b', b < 4 ? 1 : 2, b, b === 2 ? { [BatchHeaders.Keys]: '[{"id":2}]', [BatchHeaders.Column]: 'name', [BatchHeaders.BatchRows]: '50', [BatchHeaders.Applied]: '49' } : {})
  // a deleted letter in the middle is skipped, not an error
  await (await nc.jetstreamManager()).streams.deleteMessage(names.dlqStream, 5)
  const all = await listDeadLetters({ nc, names })
  t.same(all.letters.map((l) => l.seq), [1, 2, 3, 4, 6, 7])
  t.equal(all.next, undefined)
  const first = await listDeadLetters({ nc, names }, { stream: 'a' }, { limit: 2 })
  t.same([first.letters.map((l) => l.seq), first.next], [[1, 3], 3])
  const second = await listDeadLetters({ nc, names }, { stream: 'a' }, { limit: 2, after: first.next! })
  t.same([second.letters.map((l) => l.seq), second.next], [[7], undefined], 'seq 5 (deleted) skipped')
  t.same((await listDeadLetters({ nc, names }, { loadId: 2 })).letters.map((l) => l.seq), [6, 7])
  t.match((await listDeadLetters({ nc, names }, { stream: 'a' })).letters[1], { seq: 3, stream: 'a', loadId: 1, batch: 2, rows: 1, batchRows: 50, applied: 49, keys: [{ id: 2 }], column: 'name', reason: 'reason 2', deliveries: 1 })
  t.match(await showDeadLetter({ nc, names }, 3), { seq: 3, keys: [{ id: 2 }], body: { columns: ['id'], rows: [[2]] } })
  t.equal(await showDeadLetter({ nc, names }, 5), undefined)
  t.same((await listDeadLetters({ nc, names }, { stream: 'nope' })).letters, [])
})

t.test('dead letters – replay publishes with Sisporta-Replay into failed loads, refuses by state and when a newer full load applied; drop reports each letter', async (t) => {
  const { nc, names } = await testBus(t)
  const registry = await LoadRegistry.bind(nc, names)
  const failed = await registry.openLoad({ stream: 'a', mode: 'full' })
  await registry.transition('a', failed.id, (l) => ({ ...l, state: 'failed' }))
  const discarded = await registry.openLoad({ stream: 'a', mode: 'full' })
  await registry.transition('a', discarded.id, (l) => ({ ...l, state: 'discarded' }))
  const old = await registry.openLoad({ stream: 'b', mode: 'full' })
  await registry.transition('b', old.id, (l) => ({ ...l, state: 'failed' }))
  const newer = await registry.openLoad({ stream: 'b', mode: 'full' })
  for (const state of ['sealed', 'applied', 'reconciled'] as const) await registry.transition('b', newer.id, (l) => ({ ...l, state, ...(state === 'sealed' ? { batches: 1, rows: 1 } : {}) }))
  const s1 = await letter(nc, names, 'a', failed.id, 0, { [BatchHeaders.BatchRows]: '9' })
  const s2 = await letter(nc, names, 'a', discarded.id, 0)
  const s3 = await letter(nc, names, 'b', old.id, 0)

  const outcomes = await replayDeadLetters({ nc, names, registry }, { seqs: [s1, s2, s3, 99] })
  t.match(outcomes, [
    { seq: s1, outcome: 'replayed' },
    { seq: s2, outcome: 'refused', code: 'SIS_BUS_DLQ_REPLAY_REFUSED', reason: /is discarded: an operator discarded it/ },
    { seq: s3, outcome: 'refused', code: 'SIS_BUS_DLQ_REPLAY_REFUSED', reason: new RegExp(`a newer full load of stream 'b' \\(load ${newer.id}, reconciled\\)`) },
    { seq: 99, outcome: 'refused', code: 'SIS_BUS_DLQ_UNKNOWN' }
  ])
  const jsm = await nc.jetstreamManager()
  const replayed = await jsm.streams.getMessage(names.batchStream, { last_by_subj: names.batchSubject('a') })
  t.equal(replayed.header.get(BatchHeaders.Replay), String(s1))
  t.equal(replayed.header.get(BatchHeaders.BatchRows), '9')
  t.equal(replayed.header.get(BatchHeaders.Load), String(failed.id))
  t.equal(replayed.header.get(BatchHeaders.Reason), '', 'the reason stays with the letter')
  t.same((await listDeadLetters({ nc, names })).letters.map((l) => l.seq), [s2, s3], 'the replayed letter is gone, refused ones kept')

  t.match(await dropDeadLetters({ nc, names }, { filter: { stream: 'a' } }), [{ seq: s2, outcome: 'dropped' }])
  t.match(await dropDeadLetters({ nc, names }, { seqs: [s3, s3, s1] }), [{ seq: s3, outcome: 'dropped' }, { seq: s1, outcome: 'refused', code: 'SIS_BUS_DLQ_UNKNOWN' }])
  t.same((await listDeadLetters({ nc, names })).letters, [])
})
