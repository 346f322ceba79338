// Loads example stream configs with sisporta's own loader: sisporta.yaml files as they are,
// and the sisporta.yaml of every ConfigMap in rendered manifests.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { loadConfig, parseConfig } from '../../libs/config/src/index.ts'

// deploy/ is no workspace package: borrow the yaml package of @sisporta/config.
const { parseAllDocuments } = createRequire(new URL('../../libs/config/package.json', import.meta.url))('yaml') as typeof import('yaml')

for (const file of process.argv.slice(2)) {
  if (file.endsWith('/sisporta.yaml')) {
    const config = loadConfig(file, {})
    console.log(`ok  ${file}: ${config.streams.map((s) => s.name).join(', ')}`)
    continue
  }
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const o = doc.toJS() as { kind?: string, metadata?: { name?: string }, data?: Record<string, string> } | null
    const text = o?.kind === 'ConfigMap' ? o.data?.['sisporta.yaml'] : undefined
    if (text === undefined) continue
    const config = parseConfig(text, `${file}#${o?.metadata?.name ?? ''}`, {})
    console.log(`ok  ConfigMap ${o?.metadata?.name ?? ''}: ${config.streams.map((s) => s.name).join(', ')}`)
  }
}
