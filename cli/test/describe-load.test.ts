import t from 'tap'
import type { LoadRecord } from '@sisporta/contracts'
import { describeLoad } from '../src/commands/describe-load.js'

// The line `loads show`, `extract --wait` and `status` print for a load: it mentions the datetime
// values the source cut to the microsecond (`fraction: truncate`, issue 12 defect 4) when there were any.

const sealed: LoadRecord = {
  id: 7, stream: 'orders', mode: 'full', state: 'sealed', openedAt: '2026-12-01T10:00:00.000Z', updatedAt: '2026-12-01T10:01:00.000Z', batches: 1, rows: 120
}

t.test('describe load – the count of cut fractions when not zero', async (t) => {
  t.equal(describeLoad({ ...sealed, truncatedFractions: 12 }), 'load 7 · stream orders · full · sealed · 120 rows in 1 batches · 12 datetime values cut to the microsecond (fraction: truncate)')
  t.match(describeLoad({ ...sealed, truncatedFractions: 1 }), / · 1 datetime value cut to the microsecond \(fraction: truncate\)$/)
  t.equal(describeLoad(sealed), 'load 7 · stream orders · full · sealed · 120 rows in 1 batches', 'none cut: not mentioned')
  t.equal(describeLoad({ ...sealed, truncatedFractions: 0 }), describeLoad(sealed))
})
