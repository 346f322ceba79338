import t from 'tap'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { createConnection } from 'mysql2/promise'
import { connect } from 'nats'
import { busNames } from '@sisporta/contracts'
import { deprovisionBus } from '@sisporta/nats'
import { eventually, randomId, TEST_MYSQL_SERVER, TEST_NATS_URL } from '@sisporta/testkit'
import { CLI_ENTRY, cliNodeArgs } from '@sisporta/cli'

interface StateReply { streams: Array<{ name: string, lastReconciled?: { id: number }, ageSec?: number }> }
interface LoadReply { id: number, state: string }

// `sisporta demo --serve`: what an operator on a fresh clone does to see the console with the
// demo running. The demo's services stay up with the console beside them; the admin token it
// prints signs in; "sync now" is served by the demo's extractor daemon; Ctrl-C stops it all.
t.test('demo --serve – keeps the pipeline running with the console, whose sync now the daemon serves, until SIGINT', async (t) => {
  const namespace = `t_serve_${randomId(6)}`
  const prefix = `sisporta_t_serve_${randomId(6)}`
  t.teardown(async () => {
    const sql = await createConnection({ uri: TEST_MYSQL_SERVER, multipleStatements: true })
    await sql.query(`DROP DATABASE IF EXISTS \`${prefix}\`; DROP DATABASE IF EXISTS \`${prefix}_erp\``)
    await sql.end()
    const nc = await connect({ servers: TEST_NATS_URL })
    await deprovisionBus(nc, busNames(namespace))
    await nc.close()
  })
  const demo = spawn(process.execPath, [...cliNodeArgs(), CLI_ENTRY, 'demo', '--rows', '30', '--serve', '--db-prefix', prefix], {
    env: { ...process.env, SISPORTA_NAMESPACE: namespace, SISPORTA_MYSQL_URL: `${TEST_MYSQL_SERVER}/${prefix}`, SISPORTA_SYNC_POLL_INTERVAL: '1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)))
  t.teardown(() => { if (demo.exitCode === null) demo.kill('SIGKILL') })
  const lines: string[] = []
  createInterface({ input: demo.stdout! }).on('line', (line) => lines.push(line))
  demo.stderr!.on('data', (chunk: Buffer) => { process.stderr.write(chunk) })

  const token = await eventually(() => lines.find((l) => /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/.test(l)), { what: 'the admin token line', timeoutMs: 300_000 })
  const url = /Open (http:\/\/127\.0\.0\.1:\d+) in a browser/.exec(lines.join('\n'))?.[1]
  t.ok(url, `the console's address is printed (${url})`)
  const auth = { authorization: `Bearer ${token}` }

  const state = await (await fetch(`${url!}/api/state`, { headers: auth })).json() as StateReply
  t.same(state.streams.map((s) => s.name).sort(), ['customers', 'price_list', 'products'], 'every demo stream is on the console')
  t.ok(state.streams.every((s) => s.lastReconciled !== undefined && typeof s.ageSec === 'number'), 'each with its freshness')

  const before = await (await fetch(`${url!}/api/loads?stream=products`, { headers: auth })).json() as LoadReply[]
  const sync = await fetch(`${url!}/api/streams/products/sync`, { method: 'POST', headers: auth })
  t.equal(sync.status, 200, 'sync now accepted')
  const newest = Math.max(...before.map((l) => l.id))
  const synced = await eventually(async () => {
    const loads = await (await fetch(`${url!}/api/loads?stream=products`, { headers: auth })).json() as LoadReply[]
    return loads.find((l) => l.id > newest && l.state === 'reconciled')
  }, { what: 'the synced load reconciled', timeoutMs: 180_000 })
  t.ok(synced, 'the demo\'s extractor daemon ran the requested load')

  demo.kill('SIGINT')
  t.equal(await exited, 0, 'Ctrl-C ends the demo cleanly')
  const stops = lines.filter((l) => /^ {3}(gateway|persister|reconciler|extractor|console)\s+exited /.test(l))
  t.equal(stops.length, 5, 'every service stopped')
  t.ok(stops.every((l) => l.endsWith('exited 0')), `each with exit 0: ${stops.join(' | ')}`)
})
