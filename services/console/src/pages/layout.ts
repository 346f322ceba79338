import { html, type SafeHtml } from '../html.js'

export type PageName = 'overview' | 'loads' | 'dead-letters'

export interface LayoutOptions {
  readonly title: string
  readonly page: PageName | 'login'
  readonly namespace: string
  /** The signed-in operator (the token's subject); none on the login page. */
  readonly operator?: string | undefined
  /** The fragment the page polls for live updates (`/fragments/overview`, …). */
  readonly live?: string | undefined
  readonly body: SafeHtml
}

const NAV: ReadonlyArray<[PageName, string, string]> = [['overview', '/', 'Overview'], ['loads', '/loads', 'Loads'], ['dead-letters', '/dead-letters', 'Dead letters']]

/** The frame of every page: head, navigation, the flash line actions write to, the client script. */
export function layout (options: LayoutOptions): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · sisporta console</title>
<link rel="stylesheet" href="/assets/uplot.css">
<link rel="stylesheet" href="/assets/console.css">
</head>
<body data-page="${options.page}"${options.live === undefined ? '' : html` data-live="${options.live}"`}>
<header class="top">
  <span class="brand">sisporta</span><span class="ns">namespace <b>${options.namespace}</b></span>
  ${options.operator === undefined
    ? ''
    : html`<nav>${NAV.map(([name, href, label]) => html`<a href="${href}"${name === options.page ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>
  <form method="post" action="/logout" class="who"><span>signed in as <b>${options.operator}</b></span> <button type="submit">Sign out</button></form>`}
</header>
<div id="flash" role="status" aria-live="polite"></div>
<main>
${options.body}
</main>
<script src="/assets/uplot.js"></script>
<script src="/assets/console.js"></script>
</body>
</html>
`
}

/** A time as `2026-12-02 09:45:27` (UTC), or a dash. */
export function when (iso: string | undefined): string {
  if (iso === undefined) return '–'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 19).replace('T', ' ')
}

/** A load state as a badge (the class is one of a fixed set, never the raw value). */
export function stateBadge (state: string): SafeHtml {
  const kind = ['reconciled', 'applied', 'approved'].includes(state)
    ? 'ok'
    : ['held', 'open', 'sealed'].includes(state) ? 'wait' : ['failed', 'abandoned'].includes(state) ? 'bad' : 'muted'
  return html`<span class="badge ${kind}">${state}</span>`
}

/** A POST button the client script sends (with a confirmation question when given). */
export function actionButton (label: string, url: string, options: { confirm?: string, danger?: boolean, name?: string } = {}): SafeHtml {
  return html`<button type="button" class="act${options.danger === true ? ' danger' : ''}" data-post="${url}"${options.confirm === undefined ? '' : html` data-confirm="${options.confirm}"`}${options.name === undefined ? '' : html` data-name="${options.name}"`}>${label}</button>`
}
