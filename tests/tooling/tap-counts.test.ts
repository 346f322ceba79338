import { spawn } from 'node:child_process'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createTapCounter, parseResult, summaryLine } from '../../scripts/tap-counts.mjs'

// `pnpm test` ends with the line CI reads. Its counts must be honest: every subtest at every
// depth, every skip and todo, a test that asserts nothing as a failure, a crash outside the
// subtests as a failure. The fixtures are run by the real tap (as `pnpm test` runs it), so the
// counter is checked against tap's own output, not against TAP written by hand.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures')

async function runTap (files: string[]): Promise<{ lines: string[], code: number | null, stderr: string }> {
  // the parent tap's variables would make the child believe it is a test process itself
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TAP|_TAPJS)/.test(k)))
  const child = spawn(join(root, 'node_modules', '.bin', 'tap'), ['--reporter=tap', ...files.map((f) => relative(root, join(fixtures, f)))], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-4000) })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { lines: out.split('\n'), code, stderr }
}

/** Whether tap itself ran the files (a test point of any fixture): not the case when the tool failed to start. */
const ranFixtures = (lines: readonly string[]): boolean => lines.some((l) => /^(not )?ok \d+ - tests\/tooling\/fixtures\//.test(l))

const file = (name: string): string => relative(root, join(fixtures, name))

// one tap run over every fixture (as `pnpm test` runs many files), counted once
const FIXTURES = ['nested.fixture.ts', 'top-level-only.fixture.ts', 'skipped-file.fixture.ts', 'crash-at-load.fixture.ts', 'nothing.fixture.ts']
// once more if the tool run itself produced no result at all (seen once on a loaded CI machine,
// stderr then says why); the counts below are checked on a run that ran the fixtures
let run = await runTap(FIXTURES)
if (!ranFixtures(run.lines)) {
  console.error(`tap-counts: the tap run over the fixtures gave no test point (exit ${String(run.code)}); running it again. Its stderr:\n${run.stderr}`)
  run = await runTap(FIXTURES)
}
const counter = createTapCounter()
for (const line of run.lines) counter.line(line)
const all = counter.finish(run.code)
const of = (fixture: string, names: string[]): string[] => names.filter((n) => n.startsWith(file(fixture))).sort()
const totalsOf = (...fixtures: string[]): typeof all => ({
  passed: fixtures.flatMap((f) => of(f, all.passed)),
  failed: fixtures.flatMap((f) => of(f, all.failed)),
  skipped: fixtures.flatMap((f) => of(f, all.skipped)),
  todo: fixtures.flatMap((f) => of(f, all.todo))
})

t.test('test counts – every nested subtest, skip and todo is counted; a test without assertions fails', async (t) => {
  t.not(run.code, 0, 'tap itself fails the run')
  const totals = totalsOf('nested.fixture.ts')
  const f = file('nested.fixture.ts')
  t.same(totals.passed.sort(), [`${f} > outer > deep`, `${f} > outer > deep > deeper`, `${f} > outer > inner pass`, `${f} > top passes`].sort(), 'passed: the nested ones too')
  t.same(totals.failed.sort(), [
    `${f} > outer`, `${f} > outer > inner fail`, `${f} > outer > inner without assertions (no assertions)`, `${f} > top without assertions (no assertions)`
  ].sort(), 'failed: the failing ones, their parent, and the tests that asserted nothing')
  t.same(totals.skipped.sort(), [`${f} > outer > inner skip (skipped on purpose)`, `${f} > outer > skipped by t.skip`, `${f} > top with plan 0 and a reason (no server here)`].sort(), 'skipped, with their reasons')
  t.same(totals.todo.sort(), [`${f} > outer > inner todo (left to do on purpose)`, `${f} > outer > todo without a body`].sort(), 'todo')
  t.equal(summaryLine(totals), '4 passed, 4 failed, 3 skipped, 2 todo', 'the closing line')
})

t.test('test counts – files without subtests: one test each; a crash outside the subtests and an empty file fail', async (t) => {
  const totals = totalsOf('top-level-only.fixture.ts', 'skipped-file.fixture.ts', 'crash-at-load.fixture.ts', 'nothing.fixture.ts')
  t.same(totals.passed.sort(), [file('top-level-only.fixture.ts'), `${file('crash-at-load.fixture.ts')} > passes before the crash`].sort())
  t.same(totals.failed.sort(), [`${file('crash-at-load.fixture.ts')} (failed outside a subtest)`, `${file('nothing.fixture.ts')} (no assertions)`].sort())
  t.same(totals.skipped, [`${file('skipped-file.fixture.ts')} (the whole file skipped on purpose)`])
  t.same(totals.todo, [])
  t.equal(summaryLine(totals), '2 passed, 2 failed, 1 skipped', 'no todo part when there is none')
  t.equal(summaryLine(all), '6 passed, 6 failed, 4 skipped, 2 todo', 'the whole run: every fixture counted, nothing twice')
})

t.test('test counts – a green run keeps the exact closing line; tap failing with nothing counted is a failure', async (t) => {
  t.equal(summaryLine({ passed: ['a', 'b'], failed: [], skipped: [], todo: [] }), '2 passed, 0 failed')
  const counter = createTapCounter()
  counter.line('TAP version 14')
  t.same(counter.finish(1).failed, ['tap exited with 1'])
  t.same(parseResult('- a \\# b # SKIP why'), { name: 'a # b', directive: { kind: 'SKIP', reason: 'why' } })
})
