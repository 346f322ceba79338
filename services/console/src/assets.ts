import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

/**
 * The console's static files, all served by the console itself (no CDN: it runs where the
 * operator's browser may reach nothing else). uPlot (MIT, ~50 KB, no dependencies) draws the
 * charts; its files are read once from its package.
 */
export interface Asset {
  readonly type: string
  readonly body: string
}

const require = createRequire(import.meta.url)

function fromPackage (file: string, type: string): Asset {
  return { type, body: readFileSync(require.resolve(file), 'utf8') }
}

export function loadAssets (): ReadonlyMap<string, Asset> {
  return new Map([
    ['uplot.js', fromPackage('uplot/dist/uPlot.iife.min.js', 'text/javascript; charset=utf-8')],
    ['uplot.css', fromPackage('uplot/dist/uPlot.min.css', 'text/css; charset=utf-8')],
    ['console.js', { type: 'text/javascript; charset=utf-8', body: CLIENT_SCRIPT }],
    ['console.css', { type: 'text/css; charset=utf-8', body: STYLES }]
  ])
}

/**
 * The browser side, deliberately small: POST buttons (with a confirmation), the live part of a
 * page re-fetched every few seconds as server-rendered (escaped) HTML, and the two charts from
 * `/api/samples`. A 401 from any call goes back to the login page.
 */
const CLIENT_SCRIPT = String.raw`(() => {
  'use strict'
  const body = document.body
  const flash = document.getElementById('flash')
  const say = (text, bad) => { if (flash) { flash.textContent = text; flash.className = bad ? 'bad' : 'ok' } }
  const signIn = (why) => { location.assign('/login?why=' + why) }

  let refreshing = false
  async function refresh () {
    const live = document.getElementById('live')
    const url = body.dataset.live
    if (!live || !url || refreshing) return // one look at a time: a slow bus never piles them up
    refreshing = true
    try {
      const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'text/html' }, signal: AbortSignal.timeout(15000) })
      if (res.status === 401) return signIn('expired')
      if (res.ok) live.innerHTML = await res.text() // rendered and escaped by the console
    } catch {} finally { refreshing = false }
  }

  document.addEventListener('click', async (event) => {
    const button = event.target.closest('button[data-post]')
    if (!button) return
    const question = button.dataset.confirm
    if (question && !window.confirm(question)) return
    button.disabled = true
    try {
      const res = await fetch(button.dataset.post, { method: 'POST', credentials: 'same-origin', headers: { accept: 'application/json' } })
      if (res.status === 401) return signIn('expired')
      const reply = await res.json().catch(() => ({ message: res.statusText }))
      say(reply.message || res.statusText, !res.ok)
    } catch (err) {
      say('the console did not answer: ' + err.message, true)
    } finally {
      button.disabled = false
      await refresh()
      await charts()
    }
  })
  document.addEventListener('change', (event) => {
    if (event.target.matches('select[data-autosubmit]')) event.target.form.submit()
  })

  let throughput, lag, streamsShown = ''
  const palette = ['#2563eb', '#16a34a', '#d97706', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d']
  const size = (el) => ({ width: Math.max(300, el.clientWidth), height: 220 })
  async function charts () {
    const t = document.getElementById('chart-throughput')
    const l = document.getElementById('chart-lag')
    if (!t || !l || typeof uPlot === 'undefined') return
    let data
    try {
      const res = await fetch('/api/samples', { credentials: 'same-origin', headers: { accept: 'application/json' } })
      if (res.status === 401) return signIn('expired')
      data = await res.json()
    } catch { return }
    const times = data.samples.map((s) => s.t)
    const streams = data.streams
    const rows = streams.map((name) => data.samples.map((s) => s.rowsPerSec[name] ?? null))
    if (streams.join(',') !== streamsShown || !throughput) {
      streamsShown = streams.join(',')
      t.textContent = ''
      throughput = new uPlot({ ...size(t), scales: { x: { time: true } }, series: [{}, ...streams.map((name, i) => ({ label: name, stroke: palette[i % palette.length], width: 2 }))], axes: [{}, { label: 'rows/s' }] }, [times, ...rows], t)
    } else throughput.setData([times, ...rows])
    const pending = data.samples.map((s) => s.pending)
    const inFlight = data.samples.map((s) => s.ackPending)
    if (!lag) {
      l.textContent = ''
      lag = new uPlot({ ...size(l), scales: { x: { time: true } }, series: [{}, { label: 'pending', stroke: '#d97706', width: 2 }, { label: 'in flight', stroke: '#2563eb', width: 2 }], axes: [{}, { label: 'batches' }] }, [times, pending, inFlight], l)
    } else lag.setData([times, pending, inFlight])
  }

  if (body.dataset.live) setInterval(refresh, 3000)
  if (document.getElementById('chart-throughput')) { charts(); setInterval(charts, 5000) }
})()
`

const STYLES = `
:root { --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f9fafb; --ok: #15803d; --wait: #b45309; --bad: #b91c1c; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header.top { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.5rem; background: #111827; color: #f9fafb; }
header.top .brand { font-weight: 700; font-size: 1.1rem; letter-spacing: .02em; }
header.top .ns { color: #9ca3af; }
header.top nav { display: flex; gap: 1rem; flex: 1; }
header.top nav a { color: #d1d5db; text-decoration: none; padding: .2rem .1rem; }
header.top nav a[aria-current] { color: #fff; border-bottom: 2px solid var(--accent); }
header.top .who { color: #9ca3af; margin: 0; }
header.top .who button { background: transparent; color: #d1d5db; border: 1px solid #4b5563; }
main { padding: 1rem 1.5rem 2rem; max-width: 1400px; }
h1 { font-size: 1.15rem; margin: 1rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); margin-bottom: 1rem; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; font-size: .85rem; color: #374151; }
table.rows { margin: .4rem 0 0; font: 12px/1.3 ui-monospace, SFMono-Regular, Menlo, monospace; }
table.rows th, table.rows td { padding: .2rem .4rem; }
.muted { color: var(--muted); font-size: .85rem; }
.reason { max-width: 40rem; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600; text-decoration: none; background: #e5e7eb; color: #374151; }
.badge.ok { background: #dcfce7; color: var(--ok); }
.badge.wait { background: #fef3c7; color: var(--wait); }
.badge.bad { background: #fee2e2; color: var(--bad); }
.badge.paused { background: #e0e7ff; color: #3730a3; }
.fresh { color: var(--ok); font-weight: 600; }
.stale { color: var(--wait); font-weight: 600; }
button { font: inherit; padding: .25rem .7rem; border-radius: 6px; border: 1px solid #d1d5db; background: #fff; cursor: pointer; }
button:hover { border-color: var(--accent); }
button.danger { border-color: #fca5a5; color: var(--bad); }
button:disabled { opacity: .5; }
.actions { white-space: nowrap; }
dl.lag { display: flex; gap: 1rem; margin: 0; }
dl.lag div { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .4rem .9rem; min-width: 9rem; }
dl.lag dt { color: var(--muted); font-size: .8rem; }
dl.lag dd { margin: 0; font-size: 1.4rem; font-weight: 600; }
.asof { color: var(--muted); font-size: .8rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1rem; }
.charts figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .6rem; }
.charts figcaption { font-weight: 600; margin-bottom: .3rem; }
.chart { min-height: 250px; }
#flash { min-height: 0; }
#flash.ok, #flash.bad { margin: .6rem 1.5rem 0; padding: .5rem .8rem; border-radius: 6px; }
#flash.ok { background: #dcfce7; color: var(--ok); }
#flash.bad { background: #fee2e2; color: var(--bad); }
.login { max-width: 36rem; margin: 2rem auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.5rem 1.5rem; }
.login textarea { width: 100%; font: 12px ui-monospace, monospace; }
.notice { background: #fef3c7; padding: .5rem .8rem; border-radius: 6px; }
.error { background: #fee2e2; color: var(--bad); padding: .5rem .8rem; border-radius: 6px; overflow-wrap: anywhere; }
.hint { color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
form.filter { margin: .5rem 0; }
`
