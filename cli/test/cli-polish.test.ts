import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { busNames, type LoadState } from '@sisporta/contracts'
import { deprovisionBus, LoadRegistry, provisionBus } from '@sisporta/nats'
import { testBus } from '@sisporta/testkit'
import { demoConfigYaml, runSisporta } from '@sisporta/cli'
import { COMMANDS } from '../src/commands/index.js'
import { COMMAND_USAGE } from '../src/usage.js'

function configFile (): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sis-cli-')), 'sisporta.yaml')
  writeFileSync(file, demoConfigYaml())
  return file
}

t.test('cli – every command has its usage entry', async (t) => {
  t.same(Object.keys(COMMAND_USAGE).sort(), Object.keys(COMMANDS).sort())
  for (const [name, usage] of Object.entries(COMMAND_USAGE)) t.match(usage, new RegExp(`^Usage: sisporta ${name}\\b`), name)
})

t.test('cli – <command> --help and help <command> print that command\'s usage and exit 0', async (t) => {
  for (const name of Object.keys(COMMANDS)) {
    const { code, stdout, stderr } = await runSisporta([name, '--help'])
    t.equal(code, 0, `${name} --help exits 0 ${stderr}`)
    t.equal(stdout, COMMAND_USAGE[name], `${name} --help prints its usage`)
  }
  const help = await runSisporta(['help', 'loads'])
  t.equal(help.code, 0)
  t.match(help.stdout, /^Usage: sisporta loads list/)
  const nested = await runSisporta(['loads', 'list', '--state', 'failed', '-h'])
  t.equal(nested.code, 0, 'help wins over the rest of the line')
  t.match(nested.stdout, /^Usage: sisporta loads list/)
  const unknown = await runSisporta(['help', 'frobnicate'])
  t.equal(unknown.code, 2)
})

t.test('cli – an unknown option exits 2 naming the option, then the command\'s usage', async (t) => {
  const { code, stdout, stderr } = await runSisporta(['loads', 'list', '--limt', '3'])
  t.equal(code, 2)
  t.equal(stdout, '')
  t.match(stderr, /^sisporta: loads: unknown option '--limt' \[SIS_CLI_USAGE\]\n\nUsage: sisporta loads list/)
})

t.test('cli – loads list refuses a bad --state, --since or --limit before reaching anything', async (t) => {
  const env = { SISPORTA_NATS_URL: 'nats://127.0.0.1:1' } // never reached
  for (const [args, pattern] of [
    [['--state', 'failed,nope'], /--state 'nope' is not a load state \(one of open, sealed/],
    [['--since', 'yesterday'], /--since 'yesterday' must be a duration/],
    [['--limit', '0'], /--limit '0' must be a whole number of at least 1/],
    [['--limit=-3'], /--limit '-3' must be a whole number/]
  ] as const) {
    const { code, stderr } = await runSisporta(['loads', 'list', ...args], env)
    t.equal(code, 2, args.join(' '))
    t.match(stderr, pattern)
  }
})

t.test('cli – loads list and status: history with times and durations, last success, no connection chatter', async (t) => {
  const { nc, names, namespace } = await testBus(t)
  const registry = await LoadRegistry.bind(nc, names)
  const make = async (stream: string, states: LoadState[]): Promise<number> => {
    const load = await registry.openLoad({ stream, mode: 'full', openedBy: 'test' })
    for (const state of states) await registry.transition(stream, load.id, (l) => ({ ...l, state, ...(state === 'reconciled' ? { reconciledAt: new Date().toISOString() } : {}) }))
    return load.id
  }
  const reconciled = await make('products', ['sealed', 'applied', 'reconciled'])
  const failed = await make('products', ['failed'])
  const abandoned = await make('customers', ['abandoned'])
  const open = await make('products', [])
  const env = { SISPORTA_NAMESPACE: namespace, SISPORTA_CONFIG: configFile() }

  const all = await runSisporta(['loads', 'list', '--json'], env)
  t.equal(all.code, 0, all.stderr)
  t.equal(all.stderr, '', 'nothing on stderr: no "connected to NATS"')
  const rows = JSON.parse(all.stdout) as Array<{ id: number, state: string, startedAt: string, endedAt?: string, durationMs: number }>
  t.same(rows.map((r) => r.id), [reconciled, failed, abandoned, open], 'oldest first')
  t.ok(rows[0]!.endedAt !== undefined && rows[0]!.durationMs >= 0, 'a finished load has its end and duration')
  t.equal(rows[3]!.endedAt, undefined, 'an open one has no end yet')

  const some = await runSisporta(['loads', 'list', '--json', '--state', 'failed', '--state', 'abandoned,reconciled', '--limit', '2'], env)
  t.same((JSON.parse(some.stdout) as Array<{ id: number }>).map((r) => r.id), [failed, abandoned], 'states filtered, the newest 2 kept')
  const stream = await runSisporta(['loads', 'list', '--json', '--stream', 'customers', '--since', '1h'], env)
  t.same((JSON.parse(stream.stdout) as Array<{ id: number }>).map((r) => r.id), [abandoned])
  const future = await runSisporta(['loads', 'list', '--json', '--since', new Date(Date.now() + 3_600_000).toISOString()], env)
  t.same(JSON.parse(future.stdout), [], 'nothing opened after a time to come')

  const table = await runSisporta(['loads', 'list'], env)
  t.equal(table.code, 0)
  const [header, ...lines] = table.stdout.trimEnd().split('\n')
  t.match(header, /^ID\s+STREAM\s+MODE\s+STATE\s+START\s+END\s+DURATION\s+ROWS\s+REASON$/)
  t.match(lines.at(-1), new RegExp(`^${open}\\s+products\\s+full\\s+open\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s+—\\s+\\S+…`), 'a running load: no end, its duration so far')

  const status = await runSisporta(['status', '--json'], env)
  t.equal(status.code, 0, status.stderr)
  t.equal(status.stderr, '', 'status: nothing on stderr')
  const byName = Object.fromEntries((JSON.parse(status.stdout) as { streams: Array<{ name: string, lastSuccess: unknown }> }).streams.map((s) => [s.name, s.lastSuccess]))
  t.match(byName.products, { loadId: reconciled, mode: 'full', age: /^\d+(ms|s) ago$/ })
  t.equal(byName.customers, null, 'never a success: null')
  const human = await runSisporta(['status'], env)
  t.match(human.stdout, new RegExp(`products → products · last success: \\S+ ago \\(load ${reconciled}, full,`))
  t.match(human.stdout, /customers → customers · last success: never/)

  const missing = await runSisporta(['status'], { ...env, SISPORTA_NAMESPACE: `${namespace}_nope` })
  t.equal(missing.code, 1)
  t.match(missing.stderr, /namespace '.*_nope' has no load registry on this NATS.*\[SIS_CLI_NOT_PROVISIONED\]/)
})

t.test('cli – teardown removes exactly one namespace, after confirmation', async (t) => {
  const { nc, names, namespace } = await testBus(t)
  // a namespace whose names start with the other's: never touched
  const neighbour = busNames(`${namespace}_b`)
  await provisionBus(nc, neighbour, { maxDeliver: 5 })
  t.teardown(async () => { await deprovisionBus(nc, neighbour).catch(() => {}) })
  const jsm = await nc.jetstreamManager()

  const unconfirmed = await runSisporta(['teardown', '--namespace', namespace])
  t.equal(unconfirmed.code, 2, 'not on a terminal and no --yes')
  t.match(unconfirmed.stderr, /not on a terminal, so nobody can confirm: add --yes/)
  t.ok(await jsm.streams.info(names.batchStream), 'nothing removed')
  const noName = await runSisporta(['teardown', '--yes'])
  t.equal(noName.code, 2)
  t.match(noName.stderr, /--namespace NAME is required/)

  const done = await runSisporta(['teardown', '--namespace', namespace, '--yes'])
  t.equal(done.code, 0, done.stderr)
  t.same(done.stdout.trim().split('\n').map((l) => l.replace(/ \(.*\)$/, '')), [
    `removed stream ${names.batchStream}`,
    `removed consumer ${names.persisterConsumer}`,
    `removed stream ${names.dlqStream}`,
    `removed bucket ${names.loadsBucket}`
  ])
  for (const stream of [names.batchStream, names.dlqStream, `KV_${names.loadsBucket}`]) {
    await t.rejects(jsm.streams.info(stream), /stream not found/, `${stream} gone`)
  }
  for (const stream of [neighbour.batchStream, neighbour.dlqStream, `KV_${neighbour.loadsBucket}`]) {
    t.ok(await jsm.streams.info(stream), `${stream} of namespace ${neighbour.namespace} kept`)
  }
  const again = await runSisporta(['teardown', '--namespace', namespace, '--yes'])
  t.equal(again.code, 0)
  t.match(again.stdout, /has nothing on this NATS: nothing removed/)
})

t.test('cli – demo options are checked before anything is touched', async (t) => {
  for (const [args, pattern] of [
    [['--rows', '5'], /--rows '5' must be a whole number from 10/],
    [['--db-prefix', 'Bad-Name'], /--db-prefix 'Bad-Name' must match/]
  ] as const) {
    const { code, stderr } = await runSisporta(['demo', ...args])
    t.equal(code, 2, args.join(' '))
    t.match(stderr, pattern)
  }
})

t.test('cli – demo refuses a namespace that already exists instead of wiping it', async (t) => {
  const { nc, names, namespace } = await testBus(t)
  const { code, stderr } = await runSisporta(['demo', '--rows', '10'], { SISPORTA_NAMESPACE: namespace })
  t.equal(code, 2)
  t.match(stderr, new RegExp(`namespace '${namespace}' \\(SISPORTA_NAMESPACE\\) already exists.*sisporta teardown --namespace ${namespace}`))
  t.ok(await (await nc.jetstreamManager()).streams.info(names.batchStream), 'still there')
})
