import t from 'tap'
import { escapeHtml, html, SafeHtml } from '@sisporta/console'
import { deadLettersFragment } from '../src/pages/dead-letters-page.js'
import { loadsFragment } from '../src/pages/loads-page.js'
import { overviewFragment } from '../src/pages/overview-page.js'

const HOSTILE = '<img src=x onerror="alert(1)">\'`&'

t.test('html – escapes every character that can leave text or a quoted attribute', async (t) => {
  t.equal(escapeHtml(HOSTILE), '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#39;&#96;&amp;')
  t.equal(escapeHtml(42), '42')
})

t.test('html – the tag escapes values, keeps SafeHtml, joins arrays, drops undefined/null/false', async (t) => {
  const inner = html`<b>${HOSTILE}</b>`
  t.ok(inner instanceof SafeHtml)
  const out = html`<p title="${HOSTILE}">${inner}${[HOSTILE, html`<i>ok</i>`]}${undefined}${null}${false}${0}</p>`.toString()
  t.equal(out, '<p title="&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#39;&#96;&amp;"><b>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#39;&#96;&amp;</b>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#39;&#96;&amp;<i>ok</i>0</p>')
})

t.test('pages – data from the network (reasons, pause reasons, row values, column names) is escaped', async (t) => {
  const now = new Date()
  const load = { id: 7, stream: 'products', mode: 'full' as const, state: 'held' as const, openedAt: now.toISOString(), updatedAt: now.toISOString(), reason: HOSTILE, absentRows: 3, tableRows: 10 }
  const pages = [
    overviewFragment({
      namespace: 'ns',
      operator: HOSTILE,
      at: now,
      consumer: { pending: 1, ackPending: 2, redelivered: 0, waiting: 1 },
      streams: [{ name: 'products', target: HOSTILE, deletes: 'hard', latest: load, held: 1, queuedBatches: 0, deadLetters: 1, control: { paused: true, pausedBy: HOSTILE, reason: HOSTILE, syncPending: true, syncRequestedBy: HOSTILE } }]
    }),
    loadsFragment({ namespace: 'ns', operator: 'a', loads: [load], streams: ['products'] }),
    deadLettersFragment({ namespace: 'ns', operator: 'a', letters: [{ seq: 1, stream: 'products', loadId: 7, batch: 0, rows: 1, reason: HOSTILE, deliveries: 5, time: now.toISOString(), column: HOSTILE, keys: [{ [HOSTILE]: HOSTILE }], batchRows: 3, applied: 2, columns: [HOSTILE], rowValues: [[HOSTILE]] }] })
  ]
  for (const page of pages) {
    const text = page.toString()
    t.notOk(text.includes('<img'), 'no markup from the data')
    t.ok(text.includes('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'), 'the value is shown, escaped')
  }
})
