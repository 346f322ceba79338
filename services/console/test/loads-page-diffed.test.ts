import t from 'tap'
import type { LoadRecord } from '@sisporta/contracts'
import { loadsFragment } from '../src/pages/loads-page.js'

// The loads page tells a diffed reload (docs/reloads.md) from a load of rows: its mode says
// "diffed", and under the rows sent it gives the rows compared and the key ranges found equal.

const at = '2026-12-01T10:00:00.000Z'
const load = (id: number, extra: Partial<LoadRecord> = {}): LoadRecord => ({ id, stream: 'orders', mode: 'full', state: 'reconciled', openedAt: at, updatedAt: at, rows: 120, batches: 1, ...extra })

t.test('loads page – a diffed reload shows rows compared and ranges equal; a load of rows does not', async (t) => {
  const out = loadsFragment({ namespace: 'ns', operator: 'op', streams: ['orders'], loads: [load(2, { reload: 'diff', rows: 37, comparedRows: 100000, comparedRanges: 20, equalRanges: 14, deletedRows: 5 }), load(1)] }).toString()
  const row = (id: number): string => out.slice(out.indexOf(`<tr data-load="${id}">`)).split('</tr>')[0]!
  t.match(row(2), /<span class="muted">full · diffed<\/span>/)
  t.match(row(2), /<td>37<br><span class="muted" title="[^"]*">sent of 100000 compared · 14\/20 ranges equal<\/span><br><span class="muted">5 deleted<\/span>/)
  t.notMatch(row(1), /diffed|compared/, 'a load of rows: nothing said')
})
