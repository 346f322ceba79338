import t from 'tap'
import type { LoadRecord } from '@sisporta/contracts'
import { loadsFragment } from '../src/pages/loads-page.js'

// The loads page mentions the datetime values a load's source cut to the microsecond
// (`fraction: truncate`, the load record's `truncatedFractions`), when there were any.

const at = '2026-12-01T10:00:00.000Z'
const load = (id: number, extra: Partial<LoadRecord> = {}): LoadRecord => ({ id, stream: 'orders', mode: 'full', state: 'reconciled', openedAt: at, updatedAt: at, rows: 120, batches: 1, ...extra })

t.test('loads page – the count of cut fractions under the rows, only when not zero', async (t) => {
  const out = loadsFragment({ namespace: 'ns', operator: 'op', streams: ['orders'], loads: [load(3, { truncatedFractions: 12 }), load(2, { truncatedFractions: 1 }), load(1)] }).toString()
  const row = (id: number): string => out.slice(out.indexOf(`<tr data-load="${id}">`)).split('</tr>')[0]!
  t.match(row(3), /<td>120<br><span class="muted" title="datetime values cut to the microsecond \(fraction: truncate\)">12 datetimes cut to µs<\/span><\/td>/)
  t.match(row(2), />1 datetime cut to µs</)
  t.notMatch(row(1), /cut to/, 'none cut: nothing said')
})
