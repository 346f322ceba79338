// Counts the results of a raw TAP stream as `tap --reporter=tap` writes it, line by line, for
// scripts/test.mjs's closing line `N passed, N failed[, N skipped][, N todo]`.
//
// What counts as one test:
// - every subtest, at any depth (`# Subtest: name` … `ok N - name` at the same indentation): a
//   parent and each of its children count once each;
// - every result line with a SKIP or TODO directive below the file level (skipped subtests, todo
//   subtests, skipped assertions), as skipped or todo;
// - a test file without any subtest, as one test named by the file.
//
// What counts as failed, besides `not ok` subtests:
// - a subtest (or a file without subtests) that passed with the plan `1..0` and no skip reason
//   (or tap's `# no tests found`): it asserted nothing, so it proved nothing ("no assertions");
// - a failing assertion or error outside every subtest of a file (crash at load, failing
//   top-level assertion, process.exit): one failure named by the file;
// - a file tap reports as timed out (named by the file).
//
// YAML diagnostics (`---` … `...`) are skipped: the source excerpts they show could look like TAP.

/** @typedef {{ kind: 'SKIP' | 'TODO', reason: string } | null} Directive */

/**
 * Splits `3 - name # SKIP why` into name and directive; tap escapes `#` in names as `\#`.
 * @param {string} rest
 * @returns {{ name: string, directive: Directive }}
 */
export function parseResult (rest) {
  let cut = -1
  for (let i = 0; i < rest.length - 2; i++) {
    if (rest[i] === '\\') { i++; continue }
    if (rest[i] === ' ' && rest[i + 1] === '#' && rest[i + 2] === ' ') { cut = i; break }
  }
  const raw = cut < 0 ? rest : rest.slice(0, cut)
  const name = raw.replace(/^- /, '').replace(/\\([\\#])/g, '$1')
  const m = cut < 0 ? null : /^(SKIP|TODO)\b\s*(.*)$/i.exec(rest.slice(cut + 3))
  return { name, directive: m && { kind: /** @type {'SKIP' | 'TODO'} */ (m[1].toUpperCase()), reason: m[2] } }
}

/**
 * A counter fed one raw TAP line at a time.
 *
 * @example
 * const counter = createTapCounter()
 * for (const line of tapText.split('\n')) counter.line(line)
 * const { passed, failed, skipped, todo } = counter.finish(exitCode)
 * console.log(summaryLine(counter.finish(0)))
 */
export function createTapCounter () {
  /** @type {string[]} */ const passed = []
  /** @type {string[]} */ const failed = []
  /** @type {string[]} */ const skipped = []
  /** @type {string[]} */ const todo = []
  // per depth (indent / 4): the open `# Subtest:` name, and the plan seen inside it
  /** @type {(string | undefined)[]} */ let headers = []
  /** @type {({ count: number, reason: string } | undefined)[]} */ let plans = []
  /** @type {{ name: string, counted: number, failedSubtests: Set<string>, stray: boolean } | null} */
  let file = null
  /** @type {string | null} */ let yamlEnd = null

  const label = (/** @type {string} */ name, /** @type {NonNullable<Directive>} */ d) => `${name}${d.reason ? ` (${d.reason})` : ''}`
  const fullName = (/** @type {number} */ depth, /** @type {string} */ name) => [file?.name ?? '?', ...headers.slice(1, depth), name].join(' > ')
  const empty = (/** @type {number} */ depth) => plans[depth + 1]?.count === 0 && plans[depth + 1]?.reason === ''

  /** @param {string} line */
  function line (line) {
    if (yamlEnd !== null) {
      if (line === yamlEnd) yamlEnd = null
      return
    }
    const indent = /^ */.exec(line)[0].length
    const text = line.slice(indent)
    if (text === '---' && indent % 4 === 2) { yamlEnd = `${' '.repeat(indent)}...`; return }
    if (indent % 4 !== 0) {
      // tap's whole-file timeout names the file in its diagnostics
      const expired = /^ {2}expired: (.*)$/.exec(line)
      if (expired && failed.at(-1) === 'timeout! (failed outside a subtest)') failed[failed.length - 1] = `${expired[1]} (timed out)`
      return
    }
    const depth = indent / 4
    let m
    if ((m = /^# Subtest: (.*)$/.exec(text))) {
      headers[depth] = parseResult(m[1]).name
      headers = headers.slice(0, depth + 1)
      plans = plans.slice(0, depth + 1)
      if (depth === 0) file = { name: headers[0], counted: 0, failedSubtests: new Set(), stray: false }
    } else if ((m = /^1\.\.(\d+)(?:\s*#\s*(.*))?$/.exec(text))) {
      plans[depth] = { count: Number(m[1]), reason: m[2] ?? '' }
    } else if ((m = /^(not )?ok\b ?\d* ?(.*)$/.exec(text))) {
      const ok = m[1] === undefined
      const { name, directive } = parseResult(m[2])
      if (depth === 0) {
        const f = file?.name === name ? file : { name, counted: 0, failedSubtests: new Set(), stray: false } // e.g. tap's own `not ok - timeout!`
        if (!ok && (f.stray || f.failedSubtests.size === 0)) failed.push(`${f.name} (failed outside a subtest)`)
        else if (ok && f.counted === 0) {
          // tap's own reason for a file that ran no test at all is not a skip anyone chose
          if (directive?.kind === 'SKIP' && directive.reason === 'no tests found') failed.push(`${f.name} (no assertions)`)
          else if (directive?.kind === 'SKIP') skipped.push(label(f.name, directive))
          else if (directive?.kind === 'TODO') todo.push(label(f.name, directive))
          else if (plans[1]?.count === 0 && plans[1]?.reason === '') failed.push(`${f.name} (no assertions)`)
          else passed.push(f.name)
        }
        file = null
        headers = []
        plans = []
        return
      }
      if (file === null) return
      const full = fullName(depth, name)
      if (directive !== null) {
        ;(directive.kind === 'SKIP' ? skipped : todo).push(label(full, directive))
        file.counted++
      } else if (headers[depth] === name) {
        if (!ok) {
          failed.push(full)
          if (depth === 1) file.failedSubtests.add(name)
        } else if (empty(depth)) {
          failed.push(`${full} (no assertions)`)
          if (depth === 1) file.failedSubtests.add(name)
        } else {
          passed.push(full)
        }
        file.counted++
      } else if (!ok && depth === 1 && !file.failedSubtests.has(name)) {
        // a failing assertion or error outside any subtest (tap repeats a timed-out subtest's
        // name once more, which is not a second failure)
        file.stray = true
      }
      headers = headers.slice(0, depth)
      plans = plans.slice(0, depth + 1)
    }
  }

  /**
   * The totals; a tap exit code other than 0 with no failure counted is one failure.
   * @param {number | string | null} exit
   */
  function finish (exit) {
    const f = [...failed]
    if (exit !== 0 && f.length === 0) f.push(`tap exited with ${exit}`)
    return { passed: [...passed], failed: f, skipped: [...skipped], todo: [...todo] }
  }
  return { line, finish }
}

/**
 * The closing line CI reads: `N passed, N failed`, then `, N skipped` and `, N todo` when not 0.
 * @param {{ passed: string[], failed: string[], skipped: string[], todo: string[] }} totals
 */
export function summaryLine ({ passed, failed, skipped, todo }) {
  return `${passed.length} passed, ${failed.length} failed${skipped.length ? `, ${skipped.length} skipped` : ''}${todo.length ? `, ${todo.length} todo` : ''}`
}
