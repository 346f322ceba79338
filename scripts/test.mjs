#!/usr/bin/env node
// `pnpm test [tap args…]`: makes sure the local servers run, type-checks the workspace, runs tap
// with the raw TAP reporter (streamed through), and ends with one line `N passed, N failed`
// (`, N skipped` when some were, named just above it).
//
// What counts as one test: each top-level `t.test(…)` of a test file, i.e. a result line at
// depth 1 of the raw TAP (4-space indent) that closes a `# Subtest:` of the same name, or that
// carries a SKIP / TODO directive (skipped subtests have no `# Subtest:` header). A file that
// fails outside its subtests (crash at load, failing top-level assertion, process.exit) counts
// as one failure named by the file; a passing file with no subtests counts as one pass.
//
// Environment: SISPORTA_SKIP_SERVICES=1 skips scripts/local-services.sh.
import { spawn, spawnSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

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

// (c) tap, counting as the TAP goes by
const passed = []
const failed = []
const skipped = []
let file = null // the test file whose TAP is being read
let header = null // name of the open depth-1 `# Subtest:`

/** Splits `ok 3 - name # SKIP why` into name and directive; tap escapes `#` in names as `\#`. */
function parseResult(rest) {
  const cut = rest.indexOf(' # ')
  const raw = cut < 0 ? rest : rest.slice(0, cut)
  const name = raw.replace(/^- /, '').replace(/\\([\\#])/g, '$1')
  const directive = cut < 0 ? null : /^(SKIP|TODO)\b\s*(.*)$/i.exec(rest.slice(cut + 3))
  return { name, directive: directive && { kind: directive[1].toUpperCase(), reason: directive[2] } }
}

const newFile = (name) => ({ name, counted: 0, subFailed: new Set(), stray: false })
const skipLabel = (name, { kind, reason }) => `${name} (${kind}${reason ? `: ${reason}` : ''})`

function onLine(line) {
  let m
  if ((m = /^# Subtest: (.*)$/.exec(line))) {
    file = newFile(parseResult(m[1]).name)
  } else if ((m = /^ {4}# Subtest: (.*)$/.exec(line))) {
    header = parseResult(m[1]).name
  } else if ((m = /^ {4}(not )?ok \d+ ?(.*)$/.exec(line)) && file) {
    const { name, directive } = parseResult(m[2])
    const full = `${file.name} > ${name}`
    if (directive) {
      skipped.push(skipLabel(full, directive))
      file.counted++
    } else if (name === header) {
      ;(m[1] ? failed : passed).push(full)
      if (m[1]) file.subFailed.add(name)
      file.counted++
    } else if (m[1] && !file.subFailed.has(name)) {
      // a failing assertion or error outside any subtest (tap repeats a timed-out subtest's
      // name once more, which is not a second failure)
      file.stray = true
    }
    header = null
  } else if ((m = /^(not )?ok \d+ ?(.*)$/.exec(line))) {
    const { name, directive } = parseResult(m[2])
    const f = file?.name === name ? file : newFile(name) // e.g. tap's own `not ok - timeout!`
    if (m[1] && (f.stray || f.subFailed.size === 0)) failed.push(`${f.name} (failed outside a subtest)`)
    else if (!m[1] && f.counted === 0) {
      if (directive) skipped.push(skipLabel(f.name, directive))
      else passed.push(f.name)
    }
    file = null
    header = null
  } else if ((m = /^ {2}expired: (.*)$/.exec(line)) && failed.at(-1) === 'timeout! (failed outside a subtest)') {
    failed[failed.length - 1] = `${m[1]} (timed out)` // tap's whole-file timeout names the file here
  }
}

const tap = spawn(bin('tap'), ['--reporter=tap', ...tapArgs], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
createInterface({ input: tap.stdout, crlfDelay: Infinity }).on('line', (line) => {
  process.stdout.write(line + '\n')
  onLine(line)
})
const [code, signal] = await new Promise((resolve) => tap.on('close', (c, s) => resolve([c, s])))
if (code !== 0 && failed.length === 0) failed.push(`tap exited with ${code ?? signal}`)

// (d) summary
console.log('')
for (const name of skipped) console.log(`skipped: ${name}`)
for (const name of failed) console.log(`FAILED: ${name}`)
console.log(`${passed.length} passed, ${failed.length} failed${skipped.length ? `, ${skipped.length} skipped` : ''}`)
process.exitCode = code === 0 && failed.length === 0 ? 0 : 1
