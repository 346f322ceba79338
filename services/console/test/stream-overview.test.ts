import t from 'tap'
import type { LoadRecord } from '@sisporta/contracts'
import { humanAge, streamOverview } from '@sisporta/console'

const NOW = new Date('2026-12-02T12:00:00Z')

function load (id: number, stream: string, state: LoadRecord['state'], openedAt: string, extra: Partial<LoadRecord> = {}): LoadRecord {
  return { id, stream, mode: 'full', state, openedAt, updatedAt: openedAt, ...extra }
}

t.test('stream overview – freshness is the age of the newest reconciled load\'s opening; the latest load is the newest of any state', async (t) => {
  const loads = [
    load(3, 'products', 'held', '2026-12-02T11:50:00Z'),
    load(1, 'products', 'reconciled', '2026-12-02T10:00:00Z', { reconciledAt: '2026-12-02T10:05:00Z', tableRows: 100, deletedRows: 0 }),
    load(2, 'products', 'reconciled', '2026-12-02T11:00:00Z', { reconciledAt: '2026-12-02T11:10:00Z', tableRows: 100, deletedRows: 4 }),
    load(4, 'notes', 'reconciled', '2026-12-02T11:59:00Z', { tableRows: 7, deletedRows: 2 })
  ]
  const [products, notes, empty] = streamOverview({
    streams: [{ name: 'products', target: { table: 'products' }, deletes: 'hard' }, { name: 'notes', target: { table: 'notes' }, deletes: 'soft' }, { name: 'empty', target: { table: 'empty' }, deletes: 'hard' }],
    loads,
    controls: new Map([['products', { paused: true, pausedBy: 'alice', syncPending: false }]]),
    queued: new Map([['products', 3]]),
    deadLetters: new Map([['notes', 2]]),
    now: NOW
  })
  t.match(products, { ageSec: 3600, lastReconciled: { id: 2, rows: 96 }, latest: { id: 3 }, held: 1, queuedBatches: 3, deadLetters: 0, control: { paused: true } })
  t.match(notes, { ageSec: 60, lastReconciled: { id: 4, rows: 7 }, deadLetters: 2, control: { paused: false } }, 'a soft delete keeps its rows')
  t.match(empty, { ageSec: undefined, lastReconciled: undefined, latest: undefined, held: 0 })
})

t.test('stream overview – ages for people', async (t) => {
  t.equal(humanAge(42), '42 s')
  t.equal(humanAge(300), '5 min')
  t.equal(humanAge(4000), '1 h 7 min')
  t.equal(humanAge(2 * 86400 + 4 * 3600), '2 d 4 h')
})
