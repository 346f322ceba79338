import { html, type SafeHtml } from '../html.js'
import type { ConsumerLag } from '../operations.js'
import { reportIsIdentical } from '@sisporta/contracts'
import { humanAge, type StreamOverview } from '../stream-overview.js'
import { actionButton, layout, stateBadge, when } from './layout.js'

export interface OverviewView {
  readonly namespace: string
  readonly operator: string
  readonly streams: readonly StreamOverview[]
  /** `undefined` when JetStream could not be asked (the reason is in `consumerError`). */
  readonly consumer?: ConsumerLag | undefined
  readonly consumerError?: string | undefined
  readonly at: Date
}

/** The overview page: the live part ({@link overviewFragment}) and the two charts. */
export function overviewPage (view: OverviewView): SafeHtml {
  return layout({
    title: 'Overview',
    page: 'overview',
    namespace: view.namespace,
    operator: view.operator,
    live: '/fragments/overview',
    body: html`<div id="live">${overviewFragment(view)}</div>
<section class="charts">
  <figure><figcaption>Rows applied per second, per stream</figcaption><div id="chart-throughput" class="chart"></div></figure>
  <figure><figcaption>Backlog: batches pending and in flight</figcaption><div id="chart-lag" class="chart"></div></figure>
</section>`
  })
}

/** The overview's live part: backlog, then one row per stream. Polled by the page. */
export function overviewFragment (view: OverviewView): SafeHtml {
  const c = view.consumer
  return html`<section class="backlog" id="backlog">
  <h1>Streams</h1>
  ${c === undefined
    ? html`<p class="error">Consumer backlog unknown: ${view.consumerError ?? 'not read'}</p>`
    : html`<dl class="lag">
    <div><dt>pending</dt><dd id="lag-pending">${c.pending}</dd></div>
    <div><dt>in flight (ack pending)</dt><dd id="lag-ack-pending">${c.ackPending}</dd></div>
    <div><dt>redelivered</dt><dd id="lag-redelivered">${c.redelivered}</dd></div>
    <div><dt>persisters waiting</dt><dd>${c.waiting}</dd></div>
  </dl>`}
  <p class="asof">as of ${when(view.at.toISOString())} UTC</p>
</section>
<table class="streams" id="streams">
<thead><tr><th>Stream</th><th>Freshness</th><th>Latest load</th><th>Lag</th><th>Dead letters</th><th>Status</th><th>Actions</th></tr></thead>
<tbody>
${view.streams.map(streamRow)}
</tbody>
</table>`
}

function streamRow (s: StreamOverview): SafeHtml {
  const last = s.lastReconciled
  const fresh = s.ageSec === undefined ? 'never' : humanAge(s.ageSec)
  const stale = s.ageSec === undefined || s.ageSec > 86400
  const latest = s.latest
  const c = s.control
  const url = `/api/streams/${encodeURIComponent(s.name)}`
  return html`<tr data-stream="${s.name}">
  <td><b class="stream-name">${s.name}</b><br><span class="muted">→ ${s.target} · deletes ${s.deletes}</span></td>
  <td class="freshness"><span class="${stale ? 'stale' : 'fresh'}" data-age="${s.ageSec ?? ''}">${fresh}</span>${last === undefined ? '' : html`<br><span class="muted">load ${last.id}, reconciled ${when(last.reconciledAt)}${last.rows === undefined ? '' : html` · ${last.rows} rows`}</span>`}</td>
  <td>${latest === undefined ? html`<span class="muted">no loads yet</span>` : html`<a href="/loads?stream=${encodeURIComponent(s.name)}">#${latest.id}</a> ${stateBadge(latest.state)} <span class="muted">${latest.mode}, opened ${when(latest.openedAt)}</span>`}</td>
  <td class="lag-cell" data-queued="${s.queuedBatches}">${s.queuedBatches} batch${s.queuedBatches === 1 ? '' : 'es'} queued</td>
  <td>${s.deadLetters > 0 ? html`<a class="badge bad" href="/dead-letters?stream=${encodeURIComponent(s.name)}">${s.deadLetters}</a>` : html`<span class="muted">0</span>`}</td>
  <td class="status">${verifyState(s)}${c.paused ? html`<span class="badge paused" title="${c.reason ?? ''}">paused</span> <span class="muted">by ${c.pausedBy ?? '?'}${c.malformed === undefined ? '' : ' (malformed record)'}</span>` : ''}${s.held > 0 ? html` <a class="badge wait" href="/loads#held">${s.held} held</a>` : ''}${c.syncPending ? html` <span class="badge wait" title="requested by ${c.syncRequestedBy ?? '?'} at ${when(c.syncRequestedAt)}">sync requested</span>` : ''}${!c.paused && s.held === 0 && !c.syncPending ? html`<span class="muted">active</span>` : ''}</td>
  <td class="actions">${c.paused
    ? actionButton('Resume', `${url}/resume`, { name: 'resume' })
    : actionButton('Pause', `${url}/pause`, { name: 'pause', confirm: `Pause stream ${s.name}? The gateway opens no new load of it until it is resumed.` })}
    ${actionButton('Sync now', `${url}/sync`, { name: 'sync' })}
    ${actionButton('Verify', `${url}/verify`, { name: 'verify' })}</td>
</tr>`
}

/**
 * The stream's last verify report and a pending request, on a line of their own in the status
 * cell: "identical, verified 5 min ago" or "DIFFERENT: 1 missing, 0 extra, 2 different" with the
 * first keys (source values: escaped like everything else), and "verify requested …".
 */
function verifyState (s: StreamOverview): SafeHtml | string {
  const c = s.control
  const r = c.lastVerify
  const pending = c.verifyPending === true
    ? html`<span class="badge wait" title="requested by ${c.verifyRequestedBy ?? '?'} at ${when(c.verifyRequestedAt)}">verify requested by ${c.verifyRequestedBy ?? '?'}</span> `
    : ''
  if (r === undefined) return pending === '' ? '' : html`<div class="verify">${pending}</div>`
  const ago = s.verifyAgeSec === undefined ? when(r.reportedAt) : `${humanAge(s.verifyAgeSec)} ago`
  const title = `${r.sourceRows} source rows, ${r.targetRows} target rows, ${r.ranges} ranges; requested by ${r.requestedBy}`
  if (reportIsIdentical(r)) return html`<div class="verify">${pending}<span class="badge ok" title="${title}">identical</span> <span class="muted">verified ${ago}</span></div>`
  const keys = (['missing', 'extra', 'different'] as const).filter((k) => r.firstKeys[k].length > 0)
    .map((k) => html`<br><span class="muted">first ${k}: <code>${r.firstKeys[k].map((key) => JSON.stringify(key)).join(' ')}</code></span>`)
  return html`<div class="verify">${pending}<span class="badge bad" title="${title}">DIFFERENT${r.approximate ? ' (about)' : ''}</span> ${r.missing} missing, ${r.extra} extra, ${r.different} different <span class="muted">verified ${ago}</span>${keys}</div>`
}
