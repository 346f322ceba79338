#!/usr/bin/env node
// `pnpm test [tap args…]`: makes sure the local servers run, type-checks the workspace, runs tap
// with the raw TAP reporter (streamed through), and ends with one line
// `N passed, N failed[, N skipped][, N todo]`, the skipped, todo and failed tests named above it.
//
// Every subtest counts, nested ones included; a test that asserted nothing fails; see
// scripts/tap-counts.mjs for the rules.
//
// It builds dist/ (tsc -b) before tap: the tests' child processes run the built CLI
// (SISPORTA_CLI_DIST=1). Environment: SISPORTA_SKIP_SERVICES=1 skips scripts/local-services.sh.
import { spawn, spawnSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTapCounter, summaryLine } from './tap-counts.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = (name) => join(root, 'node_modules', '.bin', name)
const tapArgs = process.argv.slice(2)
if (tapArgs[0] === '--') tapArgs.shift()

// (a) servers
if (process.env.SISPORTA_SKIP_SERVICES !== '1') {
  const services = spawnSync('bash', [join(root, 'scripts', 'local-services.sh')], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  if (services.status !== 0) {
    console.error('test: the local servers are not available (scripts/local-services.sh failed)')
    process.exit(1)
  }
}

// (b) type-check
const tsc = spawnSync(bin('tsc'), ['-p', 'tsconfig.json'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })
if (tsc.status !== 0) {
  process.stdout.write(tsc.stdout ?? '')
  process.stderr.write(tsc.stderr ?? '')
  console.error(`test: type-check failed (tsc -p tsconfig.json exited ${tsc.status ?? tsc.signal ?? tsc.error})`)
  process.exit(1)
}
console.log('type-check: ok')

// (b') build: the processes the end-to-end tests start run the built CLI (SISPORTA_CLI_DIST, see
// cli/src/demo/launch-services.ts), which starts in half the CPU time of the sources under tsx
const build = spawnSync(bin('tsc'), ['-b', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })
if (build.status !== 0) {
  process.stdout.write(build.stdout ?? '')
  process.stderr.write(build.stderr ?? '')
  console.error(`test: build failed (tsc -b tsconfig.build.json exited ${build.status ?? build.signal ?? build.error})`)
  process.exit(1)
}
console.log('build: ok (child processes run cli/dist)')

// (c) tap, counting as the TAP goes by (scripts/tap-counts.mjs says what counts)
const counter = createTapCounter()

const tap = spawn(bin('tap'), ['--reporter=tap', ...tapArgs], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SISPORTA_CLI_DIST: '1' } })
createInterface({ input: tap.stdout, crlfDelay: Infinity }).on('line', (line) => {
  process.stdout.write(line + '\n')
  counter.line(line)
})
const [code, signal] = await new Promise((resolve) => tap.on('close', (c, s) => resolve([c, s])))
const totals = counter.finish(code ?? signal)

// (d) summary: what was skipped or left to do, by name, then the line CI reads
console.log('')
for (const name of totals.skipped) console.log(`skipped: ${name}`)
for (const name of totals.todo) console.log(`todo: ${name}`)
for (const name of totals.failed) console.log(`FAILED: ${name}`)
console.log(summaryLine(totals))
process.exitCode = code === 0 && totals.failed.length === 0 ? 0 : 1
