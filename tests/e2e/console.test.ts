import t from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Connection } from 'mysql2/promise'
import { chromium, type Browser, type Page } from 'playwright-core'
import { createDemoErp, demoConfigYaml, issueToken } from '@sisporta/cli'
import { StreamControls } from '@sisporta/nats'
import { eventually } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'

// The operator console end to end, in headless Chromium (Debian's `chromium`, driven by
// playwright-core, which downloads no browser), against the real services: sign in with an
// admin token (a stream token is refused), replay dead letters, approve a held load, see every
// stream's freshness and lag, pause and resume a stream, ask for a sync. Screenshots of each page
// are kept in tests/artifacts/ (git-ignored).
const CHROMIUM = process.env.SISPORTA_CHROMIUM ?? '/usr/bin/chromium'
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url))
const SIZE = { products: 10, customers: 300 }

async function fill (sql: Connection): Promise<void> {
  await createDemoErp(sql, SIZE)
}

t.test('console – an operator signs in, replays dead letters, approves a held load, sees freshness and lag, pauses a stream', async (t) => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set SISPORTA_CHROMIUM)`)
  mkdirSync(ARTIFACTS, { recursive: true })
  // everything an operator runs: a dead-lettered batch fails its load at once (the reconciler),
  // and a replay is applied into the failed load
  const p = await startPipeline(t, {
    configYaml: demoConfigYaml(),
    fillSource: fill,
    env: { SISPORTA_BATCH_SIZE: '25' },
    services: ['gateway', 'persister', 'reconciler', 'console']
  })
  const consoleUrl = p.services.get('console')!.url
  const admin = issueToken({ jwtSecret: p.env.SISPORTA_JWT_SECRET }, { streams: [], admin: true, subject: 'e2e-operator', ttl: '1h' })
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  t.teardown(async () => { await browser.close() })
  const page: Page = await browser.newPage({ viewport: { width: 1360, height: 900 } })
  page.on('dialog', (dialog) => { void dialog.accept() })
  const shot = async (name: string): Promise<void> => { await page.screenshot({ path: `${ARTIFACTS}console-${name}.png`, fullPage: true }) }

  await t.test('sign in: a page sends the browser to the login page; a stream token is refused, an admin token opens the console', async (t) => {
    await page.goto(`${consoleUrl}/`)
    t.match(page.url(), /\/login\?why=required$/)
    await page.fill('#token', p.token)
    await page.click('form[action="/login"] button[type=submit]')
    t.match(await page.textContent('#login-reason'), /not an admin token/)
    t.match(page.url(), /\/login$/)
    await shot('login-refused')
    await page.fill('#token', admin)
    await page.click('form[action="/login"] button[type=submit]')
    await page.waitForSelector('#streams')
    t.match(await page.textContent('header .who'), /signed in as e2e-operator/)
  })

  await t.test('dead letters: the offending rows are shown; replay all applies them into their (failed) load', async (t) => {
    for (const when of ['INSERT', 'UPDATE']) {
      await p.target.query(`CREATE TRIGGER refuse_krakow_${when.toLowerCase()} BEFORE ${when} ON customers FOR EACH ROW IF NEW.city = 'Kraków' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'city Kraków refused by a trigger'; END IF`)
    }
    t.equal((await p.cli(['extract', '--stream', 'customers', '--mode', 'full'])).code, 0, 'customers sent and sealed')
    const load = (await p.loads('customers')).at(-1)!
    const jsm = await p.nc.jetstreamManager()
    await eventually(async () => {
      const info = await jsm.consumers.info(p.names.batchStream, p.names.persisterConsumer)
      const dlq = await jsm.streams.info(p.names.dlqStream)
      return info.num_pending === 0 && info.num_ack_pending === 0 && dlq.state.messages > 0 ? true : undefined
    }, { what: 'the persister to settle every batch, some as dead letters', timeoutMs: 180_000 })
    await eventually(async () => (await p.loads('customers')).find((l) => l.id === load.id && l.state === 'failed'), { what: 'the load failed by its dead letters', timeoutMs: 180_000 })
    await page.click('nav a[href="/dead-letters"]')
    await page.waitForSelector('tr[data-letter]')
    const letters = await page.locator('tr[data-letter]').count()
    t.ok(letters > 0, `${letters} dead letter(s) listed`)
    const first = page.locator('tr[data-letter]').first()
    const seq = Number(await first.getAttribute('data-letter'))
    const stored = (await jsm.streams.getMessage(p.names.dlqStream, { seq })).header.get('Sisporta-Reason')
    t.ok(stored.length > 0, `letter #${seq} has a reason`)
    t.equal(await first.locator('.reason').textContent(), stored, 'with the reason the persister gave, as stored in the letter')
    t.match(await page.locator('tr[data-letter] table.rows').first().textContent(), /Kraków/, 'and the offending rows')
    await shot('dead-letters')
    await p.target.query('DROP TRIGGER refuse_krakow_insert')
    await p.target.query('DROP TRIGGER refuse_krakow_update')
    await page.click('button[data-name="replay-all"]')
    await page.locator('#flash.ok', { hasText: `${letters} dead letter(s) replayed` }).waitFor()
    await page.waitForSelector('#no-letters')
    // the independent oracle: the once-refused rows are in the target now, all of them
    const [[{ n: krakow }]] = await p.source.query("SELECT COUNT(*) AS n FROM Clientes WHERE Cidade = 'Kraków'") as unknown as [[{ n: string }]]
    await eventually(async () => {
      const [[{ n }]] = await p.target.query("SELECT COUNT(*) AS n FROM customers WHERE city = 'Kraków' AND _sisporta_load = ?", [load.id]) as unknown as [[{ n: string }]]
      return Number(n) === Number(krakow) ? true : undefined
    }, { what: `the ${krakow} refused rows applied by load ${load.id} after the replay`, timeoutMs: 180_000 })
    t.equal((await jsm.streams.info(p.names.dlqStream)).state.messages, 0, 'no dead letter left')
    // a failed load stays failed (it deletes nothing); the next full load reconciles the stream
    t.equal((await p.extract('customers')).code, 0, 'customers reconciled by a new full load')
  })

  await t.test('loads: a held load is approved from the console, and deletes', async (t) => {
    for (const stream of ['products', 'price_list']) t.equal((await p.extract(stream)).code, 0, `${stream} reconciled`)
    await p.source.query('DELETE FROM Produtos ORDER BY ProdCode LIMIT 5')
    t.equal((await p.extract('products')).code, 1, 'extract --wait exits 1: the load is held (5 of 10 rows would go, above maxDeleteRatio 0.2)')
    const held = (await p.loads('products')).at(-1)!
    t.match(held, { state: 'held', absentRows: 5 })
    await page.click('nav a[href="/loads"]')
    const row = page.locator(`#held tr[data-load="${held.id}"]`)
    await row.waitFor()
    t.match(await row.locator('.reason').textContent(), /maxDeleteRatio|ratio|delete/i, 'it says why it is held')
    await shot('loads-held')
    await row.locator('button[data-name="approve"]').click()
    await page.locator('#flash.ok', { hasText: `load ${held.id} of stream 'products' approved` }).waitFor()
    const done = await eventually(async () => (await p.loads('products')).find((l) => l.id === held.id && l.state === 'reconciled'), { what: 'the approved load reconciled', timeoutMs: 180_000 })
    t.match(done, { approvedBy: 'e2e-operator', deletedRows: 5 })
    const [[{ n }]] = await p.target.query('SELECT COUNT(*) AS n FROM products') as unknown as [[{ n: string }]]
    t.equal(Number(n), 5, 'the 5 rows gone from the source are gone from the target')
    await page.waitForSelector(`table.loads tr[data-load="${held.id}"] .badge.ok`)
    await shot('loads')
  })

  await t.test('overview: every stream\'s freshness and lag, live charts', async (t) => {
    await page.click('nav a[href="/"]')
    for (const stream of p.config.streams) {
      const row = page.locator(`#streams tr[data-stream="${stream.name}"]`)
      await row.waitFor()
      t.match(await row.locator('.freshness').textContent(), /^\d+ (s|min)\s*load \d+, reconciled \d{4}-/, `${stream.name}: fresh, with its last reconciled load`)
      t.match(await row.locator('.lag-cell').textContent(), /^\d+ batch(es)? queued$/, `${stream.name}: its lag`)
    }
    t.match(await page.textContent('#lag-pending'), /^\d+$/, 'the consumer backlog')
    await page.waitForSelector('#chart-throughput canvas')
    await page.waitForSelector('#chart-lag canvas')
    await shot('overview')
  })

  await t.test('pause, resume and sync now, from the overview', async (t) => {
    const controls = await StreamControls.bind(p.nc, p.names)
    const row = page.locator('#streams tr[data-stream="products"]')
    await row.locator('button[data-name="pause"]').click()
    await page.waitForSelector('#streams tr[data-stream="products"] .badge.paused')
    t.match(await controls.get('products'), { paused: true, pausedBy: 'e2e-operator' }, 'the registry says paused')
    const refused = await p.cli(['extract', '--stream', 'products', '--mode', 'full'])
    t.not(refused.code, 0, 'the gateway opens no load of a paused stream')
    t.match(refused.stderr, /SIS_GW_STREAM_PAUSED|paused/)
    await shot('overview-paused')
    await row.locator('button[data-name="resume"]').click()
    await page.waitForSelector('#streams tr[data-stream="products"] button[data-name="pause"]')
    t.match(await controls.get('products'), { paused: false, resumedBy: 'e2e-operator' })
    await row.locator('button[data-name="sync"]').click()
    await page.locator('#flash.ok', { hasText: "sync of 'products' requested" }).waitFor()
    t.match(await controls.get('products'), { syncRequestedBy: 'e2e-operator' }, 'a sync request the extractor daemon picks up')
  })

  await t.test('sign out: back to the login page, and the pages are closed again', async (t) => {
    await page.click('header .who button')
    await page.waitForSelector('#login-reason')
    t.match(await page.textContent('#login-reason'), /signed out/)
    await page.goto(`${consoleUrl}/loads`)
    t.match(page.url(), /\/login\?why=required$/)
  })
})
