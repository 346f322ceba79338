import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DEFAULT_HEAP_MB, heapCapMb } from '@sisporta/config'
import { CLI_ENTRY, cliNodeArgs, freePort } from '@sisporta/cli'
import { heapNodeArgs, heapPlan, setsHeapSize } from '../src/heap-cap.js'

// One heap cap (DEFAULT_HEAP_MB, SISPORTA_HEAP_MB) for every service, however it is started:
// `sisporta <service>` started without a heap flag starts itself again under the cap.

const GB4 = 4096 * 2 ** 20

t.test('heap cap – the plan', async (t) => {
  t.equal(heapCapMb({}), DEFAULT_HEAP_MB)
  t.equal(heapCapMb({ SISPORTA_HEAP_MB: '0' }), 0)
  t.equal(heapCapMb({ SISPORTA_HEAP_MB: '512' }), 512)
  for (const bad of ['abc', '-1', '8', '1.5']) t.throws(() => heapCapMb({ SISPORTA_HEAP_MB: bad }), { code: 'SIS_CFG_ENV', message: /SISPORTA_HEAP_MB/ }, bad)

  t.ok(setsHeapSize(['--import=tsx', '--max-old-space-size=64']))
  t.ok(setsHeapSize('--enable-source-maps --max_old_space_size=96'))
  t.notOk(setsHeapSize('--max-semi-space-size=16'))
  t.notOk(setsHeapSize(undefined))

  t.same(heapPlan({ env: {}, execArgv: [], heapLimitBytes: GB4 }), { action: 'reexec', flag: `--max-old-space-size=${DEFAULT_HEAP_MB}` })
  t.same(heapPlan({ env: { SISPORTA_HEAP_MB: '200' }, execArgv: ['--import=tsx'], heapLimitBytes: GB4 }), { action: 'reexec', flag: '--max-old-space-size=200' })
  t.equal(heapPlan({ env: { SISPORTA_HEAP_MB: '0' }, execArgv: [], heapLimitBytes: GB4 }).action, 'run', 'SISPORTA_HEAP_MB=0: V8 decides')
  t.equal(heapPlan({ env: {}, execArgv: ['--max-old-space-size=300'], heapLimitBytes: GB4 }).action, 'run', 'a flag wins (and a process started again never starts again)')
  t.equal(heapPlan({ env: { NODE_OPTIONS: '--max-old-space-size=64' }, execArgv: [], heapLimitBytes: GB4 }).action, 'run', 'NODE_OPTIONS wins')
  t.equal(heapPlan({ env: {}, execArgv: [], heapLimitBytes: 100 * 2 ** 20 }).action, 'run', 'a limit within the cap already (a small container)')

  t.same(heapNodeArgs({}), [`--max-old-space-size=${DEFAULT_HEAP_MB}`])
  t.same(heapNodeArgs({ SISPORTA_HEAP_MB: '0' }), [])
  t.same(heapNodeArgs({ NODE_OPTIONS: '--max-old-space-size=64' }), [])
  t.same(heapNodeArgs({}, ['--max-old-space-size=64']), [])
  t.same(heapNodeArgs({ SISPORTA_HEAP_MB: 'abc' }), [], 'left to the service to refuse')
})

const dir = mkdtempSync(join(tmpdir(), 'sisporta-heap-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const configFile = join(dir, 'sisporta.yaml')
writeFileSync(configFile, `
streams:
  - name: products
    source: { table: products }
    target: { table: products, key: [sku] }
    columns:
      - { name: sku, from: sku, type: string, length: 20 }
    schedule: { full: 6h }
`)

interface Started {
  readonly pid: number
  /** The `starting` log line, once written. */
  starting (): Promise<Record<string, unknown>>
  output (): string
  readonly exited: Promise<number | string>
  kill (signal: NodeJS.Signals): void
}

/**
 * `sisporta extractor` as operators start it (no node flag; NODE_OPTIONS unset): its source
 * is unreachable, so it answers /healthz and waits, which is all this needs.
 */
async function startExtractor (t: Test, env: Record<string, string>): Promise<Started> {
  const port = await freePort()
  const nowhere = await freePort()
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    SISPORTA_CONFIG: configFile,
    SISPORTA_HTTP_HOST: '127.0.0.1',
    SISPORTA_HTTP_PORT: String(port),
    SISPORTA_LOG_LEVEL: 'info',
    SISPORTA_SOURCE_URL: `mysql://reader:pw@127.0.0.1:${nowhere}/erp`,
    SISPORTA_TOKEN: 'a.token.for-the-gateway',
    ...env
  }
  delete childEnv.NODE_OPTIONS
  if (env.SISPORTA_HEAP_MB === undefined) delete childEnv.SISPORTA_HEAP_MB
  const child = spawn(process.execPath, [...cliNodeArgs(), CLI_ENTRY, 'extractor'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString('utf8') })
  child.stderr.on('data', (c: Buffer) => { output += c.toString('utf8') })
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  const starting = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      for (const line of output.split('\n')) {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>
          if (parsed.msg === 'starting' && typeof parsed.heapLimitMb === 'number') return parsed
        } catch {}
      }
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the extractor exited before its 'starting' line: ${output}`)
      await sleep(100)
    }
  }
  return { pid: child.pid!, starting, output: () => output, exited, kill: (signal) => child.kill(signal) }
}

/** Until /healthz answers: the service has installed its signal handlers. */
async function healthy (s: Started): Promise<void> {
  for (;;) {
    const port = Number(/"address":"[^"]*:(\d+)"/.exec(s.output())?.[1])
    if (Number.isInteger(port)) {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined)
      if (res?.status === 200) return
    }
    await sleep(100)
  }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** V8's heap limit of a plain node process on this machine, in MB. */
function defaultLimitMb (): number {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const out = spawnSync(process.execPath, ['-p', 'require("v8").getHeapStatistics().heap_size_limit'], { env, encoding: 'utf8' })
  return Math.round(Number(out.stdout.trim()) / 2 ** 20)
}

const sameProcess = typeof (process as { execve?: unknown }).execve === 'function'

t.test('heap cap – `sisporta extractor` started without a flag runs under the cap; SIGTERM still stops it cleanly', async (t) => {
  const plain = defaultLimitMb()
  t.ok(plain > DEFAULT_HEAP_MB + 128, `this machine's default heap limit (${plain} MB) is well above the cap, or the test proves nothing`)
  const s = await startExtractor(t, {})
  const log = await s.starting()
  const limit = log.heapLimitMb as number
  t.ok(limit >= DEFAULT_HEAP_MB && limit < DEFAULT_HEAP_MB + 128, `heap limit ${limit} MB: the ${DEFAULT_HEAP_MB} MB old space + the young generation`)
  if (sameProcess) t.equal(log.pid, s.pid, 'started again in place (process.execve): the same process')
  else t.not(log.pid, s.pid, 'started again as a child')
  await healthy(s)
  s.kill('SIGTERM')
  t.equal(await s.exited, 0, 'SIGTERM through the re-exec: a clean stop, exit 0')
  t.notOk(alive(log.pid as number), 'the service process is gone')
})

t.test('heap cap – SISPORTA_HEAP_MB sets it, 0 leaves V8 alone', async (t) => {
  const raised = await startExtractor(t, { SISPORTA_HEAP_MB: '300' })
  const limit = (await raised.starting()).heapLimitMb as number
  t.ok(limit >= 300 && limit < 300 + 128, `SISPORTA_HEAP_MB=300: heap limit ${limit} MB`)
  await healthy(raised)
  raised.kill('SIGTERM')
  t.equal(await raised.exited, 0)

  const off = await startExtractor(t, { SISPORTA_HEAP_MB: '0' })
  const log = await off.starting()
  t.equal(log.heapLimitMb, defaultLimitMb(), 'SISPORTA_HEAP_MB=0: V8\'s own limit')
  t.equal(log.pid, off.pid, 'not started again')
  await healthy(off)
  off.kill('SIGTERM')
  t.equal(await off.exited, 0)

  const bad = await startExtractor(t, { SISPORTA_HEAP_MB: 'lots' })
  t.equal(await bad.exited, 2, 'a bad value: exit 2')
  t.match(bad.output(), /SISPORTA_HEAP_MB='lots' must be an integer.*\[SIS_CFG_ENV\]/)
})

t.test('heap cap – killing `sisporta` kills the service it started again', { skip: sameProcess ? 'process.execve: one process' : false }, async (t) => {
  const s = await startExtractor(t, {})
  const log = await s.starting()
  const servicePid = log.pid as number
  t.not(servicePid, s.pid)
  await healthy(s)
  s.kill('SIGKILL')
  t.equal(await s.exited, 'SIGKILL')
  const deadline = Date.now() + 30_000
  while (alive(servicePid) && Date.now() < deadline) await sleep(50)
  t.notOk(alive(servicePid), 'the child died with its parent (no orphan holding the port)')
})
