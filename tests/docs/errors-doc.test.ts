import t from 'tap'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

function sources (dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (name === 'node_modules' || name === 'dist' || name === 'test') return []
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : []
  })
}

t.test('error catalogue – every code the sources use is documented, and every documented code is used', async (t) => {
  const files = ['libs', 'services', 'cli'].flatMap((d) => readdirSync(join(root, d)).map((p) => join(root, d, p, 'src')).concat(d === 'cli' ? [join(root, 'cli', 'src')] : []))
    .filter((p) => { try { return statSync(p).isDirectory() } catch { return false } })
    .flatMap(sources)
  const used = new Set<string>()
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(/'(SIS_[A-Z]+_[A-Z_]+)'/g)) used.add(m[1]!)
  }
  const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8')
  const documented = new Set([...doc.matchAll(/^\| `(SIS_[A-Z_]+)`/gm)].map((m) => m[1]!))
  t.ok(used.size > 50, `found ${used.size} codes in the sources`)
  t.same([...used].filter((c) => !documented.has(c)).sort(), [], 'every code used is in docs/errors.md')
  t.same([...documented].filter((c) => !used.has(c)).sort(), [], 'every code in docs/errors.md is used')
})
