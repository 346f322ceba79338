import type { LoadRecord } from '@sisporta/contracts'
import { html, type SafeHtml } from '../html.js'
import { humanAge, secondsBetween } from '../stream-overview.js'
import { actionButton, layout, stateBadge, when } from './layout.js'

export interface LoadsView {
  readonly namespace: string
  readonly operator: string
  /** Newest first. */
  readonly loads: readonly LoadRecord[]
  readonly stream?: string | undefined
  readonly streams: readonly string[]
}

/** Loads shown at most on the page (newest first). */
export const MAX_SHOWN_LOADS = 100

export function loadsPage (view: LoadsView): SafeHtml {
  return layout({
    title: 'Loads',
    page: 'loads',
    namespace: view.namespace,
    operator: view.operator,
    live: `/fragments/loads${view.stream === undefined ? '' : `?stream=${encodeURIComponent(view.stream)}`}`,
    body: html`<form class="filter" method="get" action="/loads"><label>stream <select name="stream" data-autosubmit>
<option value="">all</option>${view.streams.map((s) => html`<option${s === view.stream ? html` selected` : ''}>${s}</option>`)}
</select></label> <noscript><button>Show</button></noscript></form>
<div id="live">${loadsFragment(view)}</div>`
  })
}

/** Held loads (approve / discard), then the last loads with their timings. */
export function loadsFragment (view: LoadsView): SafeHtml {
  const held = view.loads.filter((l) => l.state === 'held')
  const shown = view.loads.slice(0, MAX_SHOWN_LOADS)
  return html`<section id="held">
<h1>Held loads</h1>
${held.length === 0
  ? html`<p class="muted">No load is waiting for an operator.</p>`
  : html`<table class="held"><thead><tr><th>Load</th><th>Stream</th><th>Why it is held</th><th>Rows</th><th>Actions</th></tr></thead><tbody>
${held.map((l) => html`<tr data-load="${l.id}"><td>#${l.id}</td><td>${l.stream}</td><td class="reason">${l.reason ?? ''}</td><td>${l.tableRows ?? '–'} in target, ${l.absentRows ?? '–'} absent</td>
<td class="actions">${actionButton('Approve', `/api/loads/${l.id}/approve`, { name: 'approve', confirm: `Approve load ${l.id} of ${l.stream}? It deletes ${l.absentRows ?? 'the'} absent rows.`, danger: true })}
${actionButton('Discard', `/api/loads/${l.id}/discard`, { name: 'discard', confirm: `Discard load ${l.id} of ${l.stream}? It deletes nothing.` })}</td></tr>`)}
</tbody></table>`}
</section>
<section>
<h1>Last loads${view.stream === undefined ? '' : html` of ${view.stream}`}</h1>
${shown.length === 0 ? html`<p class="muted">No loads yet.</p>` : html`<table class="loads"><thead><tr>
<th>Load</th><th>Stream</th><th>State</th><th>Opened</th><th>Sealed</th><th>Applied</th><th>Reconciled</th><th>Took</th><th>Rows</th><th>Note</th></tr></thead><tbody>
${shown.map(loadRow)}
</tbody></table>`}
${view.loads.length > shown.length ? html`<p class="muted">${view.loads.length - shown.length} older load(s) not shown: sisporta loads list.</p>` : ''}
</section>`
}

function step (from: string | undefined, to: string | undefined): SafeHtml {
  const sec = secondsBetween(from, to)
  return html`${when(to)}${sec === undefined ? '' : html`<br><span class="muted">+${humanAge(sec)}</span>`}`
}

function loadRow (l: LoadRecord): SafeHtml {
  const end = l.reconciledAt ?? (l.state === 'applied' && l.mode === 'incremental' ? l.appliedAt : undefined)
  const took = secondsBetween(l.openedAt, end)
  return html`<tr data-load="${l.id}">
<td>#${l.id}</td><td>${l.stream}</td><td>${stateBadge(l.state)} <span class="muted">${l.mode}${l.reload === 'diff' ? ' · diffed' : ''}</span></td>
<td>${when(l.openedAt)}</td><td>${step(l.openedAt, l.sealedAt)}</td><td>${step(l.sealedAt, l.appliedAt)}</td><td>${step(l.appliedAt, l.reconciledAt)}</td>
<td>${took === undefined ? '–' : humanAge(took)}</td>
<td>${l.rows ?? '–'}${l.comparedRows === undefined ? '' : html`<br><span class="muted" title="a diffed reload: rows compared with the target, ranges found equal (docs/reloads.md)">sent of ${l.comparedRows} compared · ${l.equalRanges ?? 0}/${l.comparedRanges ?? 0} ranges equal</span>`}${l.deletedRows === undefined || l.deletedRows === 0 ? '' : html`<br><span class="muted">${l.deletedRows} deleted</span>`}${l.truncatedFractions === undefined || l.truncatedFractions === 0 ? '' : html`<br><span class="muted" title="datetime values cut to the microsecond (fraction: truncate)">${l.truncatedFractions} datetime${l.truncatedFractions === 1 ? '' : 's'} cut to µs</span>`}</td>
<td class="reason">${l.reason ?? ''}</td></tr>`
}
