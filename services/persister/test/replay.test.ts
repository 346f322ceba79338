import t from 'tap'
import { headers as natsHeaders } from 'nats'
import { BatchHeaders, type LoadState } from '@sisporta/contracts'
import { createDb, migrate } from '@sisporta/db'
import type { LoadRegistry } from '@sisporta/nats'
import { eventually, testBus, testDatabase } from '@sisporta/testkit'
import { config, publishBatch, testPersister } from './helpers.js'

// Replays (`Sisporta-Replay`, as `sisporta dlq replay` publishes them) into loads that ENDED:
// applied into a failed or abandoned load, never into a discarded or superseded one, never over a
// row a newer load wrote; a batch without the header is still refused for an ended load.

const COLUMNS = ['id', 'label']

async function setup (t: Parameters<typeof testBus>[0]) {
  const bus = await testBus(t)
  const { url, sql } = await testDatabase(t)
  const db = createDb(url, { poolSize: 1 })
  await migrate(db, config)
  await db.destroy()
  const { worker, loads, sink } = await testPersister(t, bus, url, config)
  const jsm = await bus.nc.jetstreamManager()
  const query = async (q: string, values: unknown[] = []): Promise<Record<string, unknown>[]> => (await sql.query(q, values))[0] as Record<string, unknown>[]
  const settled = async (): Promise<void> => {
    await eventually(async () => {
      const info = await jsm.consumers.info(bus.names.batchStream, bus.names.persisterConsumer)
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined
    }, { what: 'every batch settled' })
  }
  const letters = async () => (await jsm.streams.info(bus.names.dlqStream)).state.messages
  return { ...bus, sql, worker, loads, sink, jsm, query, settled, letters }
}

/** A load of `shorts` moved through `states` (each an allowed step). */
async function loadIn (loads: LoadRegistry, states: LoadState[]): Promise<number> {
  const { id } = await loads.openLoad({ stream: 'shorts', mode: 'full', openedBy: 'test' })
  for (const state of states) await loads.transition('shorts', id, (l) => ({ ...l, state, ...(state === 'sealed' ? { batches: 1, rows: 1 } : {}) }))
  return id
}

async function publishReplay (s: Awaited<ReturnType<typeof setup>>, loadId: number, batch: number, rows: unknown[][], seq: number): Promise<void> {
  const h = natsHeaders()
  h.set(BatchHeaders.Stream, 'shorts')
  h.set(BatchHeaders.Load, String(loadId))
  h.set(BatchHeaders.Batch, String(batch))
  h.set(BatchHeaders.Mode, 'full')
  h.set(BatchHeaders.Rows, String(rows.length))
  h.set(BatchHeaders.Replay, String(seq))
  await s.nc.jetstream().publish(s.names.batchSubject('shorts'), new TextEncoder().encode(JSON.stringify({ columns: COLUMNS, rows })), { headers: h, msgID: `shorts.${loadId}.${batch}.replay-${seq}` })
}

t.test('replay – applied into a failed or abandoned load; refused for discarded and superseded loads; a plain batch of an ended load still refused', async (t) => {
  const s = await setup(t)
  const failed = await loadIn(s.loads, ['sealed', 'failed'])
  const abandoned = await loadIn(s.loads, ['abandoned'])
  const discarded = await loadIn(s.loads, ['discarded'])
  const superseded = await loadIn(s.loads, ['sealed', 'applied', 'superseded'])
  await publishReplay(s, failed, 0, [[1, 'failed load']], 11)
  await publishReplay(s, abandoned, 0, [[2, 'abandoned load']], 12)
  await publishReplay(s, discarded, 0, [[3, 'discarded load']], 13)
  await publishReplay(s, superseded, 0, [[4, 'superseded load']], 14)
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: failed, batch: 1, body: { columns: COLUMNS, rows: [[5, 'no replay header']] } })
  await s.worker.start()
  await s.settled()

  t.same(await s.query('SELECT id, label, _sisporta_load FROM shorts ORDER BY id'), [
    { id: 1, label: 'failed load', _sisporta_load: String(failed) },
    { id: 2, label: 'abandoned load', _sisporta_load: String(abandoned) }
  ], 'only the replays into the failed and the abandoned load wrote rows')
  t.same(await s.query('SELECT load_id, part, row_count FROM sisporta_batch_parts ORDER BY load_id'), [
    { load_id: String(failed), part: 'replay 11', row_count: 1 },
    { load_id: String(abandoned), part: 'replay 12', row_count: 1 }
  ], 'each replay booked as a part under its own identity')
  t.equal(await s.letters(), 3, 'the three refused batches are dead letters')
  const reasons: string[] = []
  for (let seq = 1; seq <= 3; seq++) reasons.push((await s.jsm.streams.getMessage(s.names.dlqStream, { seq })).header.get(BatchHeaders.Reason))
  t.ok(reasons.some((r) => r.startsWith('SIS_PERSIST_REPLAY_REFUSED') && r.includes(`load ${discarded}`) && r.includes('the load is discarded')), 'discarded: refused', { reasons })
  t.ok(reasons.some((r) => r.startsWith('SIS_PERSIST_REPLAY_REFUSED') && r.includes(`load ${superseded}`) && r.includes('the load is superseded')), 'superseded: refused', { reasons })
  t.ok(reasons.some((r) => r.startsWith('SIS_PERSIST_LOAD_STATE') && r.includes(`load ${failed}`)), 'a batch without the replay header into the failed load: refused', { reasons })
  for (let seq = 1; seq <= 3; seq++) {
    t.equal((await s.jsm.streams.getMessage(s.names.dlqStream, { seq })).header.get(BatchHeaders.Replay), '', 'a dead letter never carries Sisporta-Replay on')
  }
})

t.test('replay – never overwrites a row a newer load wrote; writes the rows no newer load has', async (t) => {
  const s = await setup(t)
  const older = await loadIn(s.loads, ['sealed', 'failed'])
  const newer = await loadIn(s.loads, [])
  await publishBatch(s.nc, s.names, { stream: 'shorts', loadId: newer, batch: 0, body: { columns: COLUMNS, rows: [[1, 'newer']] } })
  await s.worker.start()
  await s.settled()
  await publishReplay(s, older, 0, [[1, 'older'], [2, 'only in older']], 5)
  await s.settled()
  t.same(await s.query('SELECT id, label, _sisporta_load FROM shorts ORDER BY id'), [
    { id: 1, label: 'newer', _sisporta_load: String(newer) },
    { id: 2, label: 'only in older', _sisporta_load: String(older) }
  ])
  t.equal(await s.letters(), 0)
})
