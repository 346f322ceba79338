import { html, type SafeHtml } from '../html.js'
import type { DeadLetterDetail } from '../operations.js'
import { actionButton, layout, when } from './layout.js'

export interface DeadLettersView {
  readonly namespace: string
  readonly operator: string
  readonly letters: readonly DeadLetterDetail[]
  readonly stream?: string | undefined
}

/** Rows of a letter shown inline; the letter's own page shows more. */
const INLINE_ROWS = 5
/** Rows one letter's page shows at most. */
const PAGE_ROWS = 500
/** Characters of one value shown (a long text is cut, with an ellipsis). */
const VALUE_CHARS = 200

export function deadLettersPage (view: DeadLettersView): SafeHtml {
  return layout({
    title: 'Dead letters',
    page: 'dead-letters',
    namespace: view.namespace,
    operator: view.operator,
    live: `/fragments/dead-letters${view.stream === undefined ? '' : `?stream=${encodeURIComponent(view.stream)}`}`,
    body: html`<div id="live">${deadLettersFragment(view)}</div>`
  })
}

export function deadLettersFragment (view: DeadLettersView): SafeHtml {
  const all = `/api/dead-letters/replay-all${view.stream === undefined ? '' : `?stream=${encodeURIComponent(view.stream)}`}`
  return html`<h1>Dead letters${view.stream === undefined ? '' : html` of ${view.stream}`}</h1>
<p class="hint">Rows the persisters gave up on. Fix the cause first (run <code>sisporta migrate</code>, widen the column, fix the row in the ERP), then replay: the rows are applied into their load, even a failed one. A letter older than the stream's last full load is kept (that load carries the rows): drop it.</p>
${view.letters.length === 0
  ? html`<p class="muted" id="no-letters">No dead letters.</p>`
  : html`<p>${actionButton(`Replay all (${view.letters.length})`, all, { name: 'replay-all', confirm: `Replay ${view.letters.length} dead letter(s)?` })}</p>
<table class="letters"><thead><tr><th>#</th><th>Time</th><th>Stream</th><th>Load / batch</th><th>Rows</th><th>Reason and offending rows</th><th>Actions</th></tr></thead><tbody>
${view.letters.map((l) => html`<tr data-letter="${l.seq}">
<td><a href="/dead-letters/${l.seq}">#${l.seq}</a></td><td>${when(l.time)}</td><td>${l.stream}</td><td>#${l.loadId} / ${l.batch}</td><td>${l.rows}</td>
<td>${facts(l)}<div class="reason">${l.reason}</div>${rowsTable(l, INLINE_ROWS)}</td>
<td class="actions">${actionButton('Replay', `/api/dead-letters/${l.seq}/replay`, { name: 'replay' })}
${actionButton('Drop', `/api/dead-letters/${l.seq}/drop`, { name: 'drop', danger: true, confirm: `Drop dead letter #${l.seq} for good? Its rows come back only with a new load.` })}</td></tr>`)}
</tbody></table>`}`
}

/** One letter's page: its headers, its rows. */
export function deadLetterPage (view: { namespace: string, operator: string, letter: DeadLetterDetail }): SafeHtml {
  const l = view.letter
  return layout({
    title: `Dead letter #${l.seq}`,
    page: 'dead-letters',
    namespace: view.namespace,
    operator: view.operator,
    body: html`<h1>Dead letter #${l.seq}</h1>
<dl class="facts"><dt>stream</dt><dd>${l.stream}</dd><dt>load / batch</dt><dd>#${l.loadId} / ${l.batch}</dd><dt>rows</dt><dd>${l.rows}</dd>
<dt>deliveries</dt><dd>${l.deliveries}</dd>${l.batchRows === undefined ? '' : html`<dt>of the batch</dt><dd>${l.rows} of ${l.batchRows} rows refused, ${l.applied ?? 0} applied</dd>`}${l.column === undefined ? '' : html`<dt>column</dt><dd>${l.column}</dd>`}${l.keys === undefined ? '' : html`<dt>keys</dt><dd>${keysText(l)}</dd>`}<dt>dead-lettered</dt><dd>${when(l.time)}</dd><dt>reason</dt><dd class="reason">${l.reason}</dd></dl>
<p>${actionButton('Replay', `/api/dead-letters/${l.seq}/replay`, { name: 'replay' })} ${actionButton('Drop', `/api/dead-letters/${l.seq}/drop`, { name: 'drop', danger: true, confirm: `Drop dead letter #${l.seq} for good?` })}</p>
${rowsTable(l, PAGE_ROWS)}`
  })
}

/** What the persister named: the column, the offending rows' keys, the part of the batch applied. */
function facts (l: DeadLetterDetail): SafeHtml {
  const parts = [
    l.column === undefined ? undefined : html`column <b>${l.column}</b>`,
    l.batchRows === undefined ? undefined : html`${l.rows} of ${l.batchRows} rows refused, ${l.applied ?? 0} applied`,
    l.keys === undefined || l.keys.length === 0 ? undefined : html`keys ${keysText(l)}`
  ].filter((p) => p !== undefined)
  return parts.length === 0 ? html`` : html`<div class="muted facts-line">${parts.map((p, i) => html`${i > 0 ? ' · ' : ''}${p}`)}</div>`
}

function keysText (l: DeadLetterDetail): string {
  const shown = (l.keys ?? []).slice(0, 5).map((k) => Object.entries(k).map(([c, v]) => `${c}=${show(v)}`).join(', '))
  return shown.join('; ') + ((l.keys ?? []).length > 5 ? '; …' : '')
}

function rowsTable (l: DeadLetterDetail, max: number): SafeHtml {
  if (l.rowValues.length === 0) return html``
  const shown = l.rowValues.slice(0, max)
  return html`<table class="rows"><thead><tr>${l.columns.map((c) => html`<th>${c}</th>`)}</tr></thead><tbody>
${shown.map((row) => html`<tr>${row.map((v) => html`<td>${show(v)}</td>`)}</tr>`)}
</tbody></table>${l.rowValues.length > shown.length ? html`<p class="muted">${l.rowValues.length - shown.length} more row(s)${max === INLINE_ROWS ? html`: <a href="/dead-letters/${l.seq}">show</a>` : ''}</p>` : ''}`
}

function show (value: unknown): string {
  const text = value === null ? 'NULL' : typeof value === 'string' ? value : JSON.stringify(value) ?? String(value)
  return text.length > VALUE_CHARS ? `${text.slice(0, VALUE_CHARS)}…` : text
}
