import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileSummary {
  readonly file: string
  /** Sampled seconds, idle excluded. */
  readonly busySeconds: number
  /** Share of busy time by where the code lives (a package, node internals, GC, sisporta's own code). */
  readonly byArea: Array<{ area: string, seconds: number, percent: number }>
  /** Functions with the most self time. */
  readonly topFunctions: Array<{ fn: string, seconds: number, percent: number }>
}

/** Where a frame's code lives: `pkg:<npm package>`, `node:<module>`, `sisporta:<workspace path>`, or a V8 pseudo-frame. */
export function areaOf (url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  const pkg = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url) ?? /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (pkg !== null) return `pkg:${pkg[1]!}`
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/').slice(0, 2).join('/')}`
  const own = /\/((?:libs|services|cli)\/[^/]+)\/src\//.exec(url)
  if (own !== null) return `sisporta:${own[1]!}`
  return url.replace(/^file:\/\//, '')
}

/**
 * Summarises a V8 `.cpuprofile` (what `node --cpu-prof` writes): self time per area of code
 * and per function, idle time excluded.
 */
export function summariseProfile (file: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const areas = new Map<string, number>()
  const fns = new Map<string, number>()
  let busy = 0
  for (const [id, micros] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    if (functionName === '(idle)') continue
    busy += micros
    const area = areaOf(url, functionName)
    areas.set(area, (areas.get(area) ?? 0) + micros)
    const fn = `${functionName === '' ? '(anonymous)' : functionName} ${url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`}`.trim()
    fns.set(fn, (fns.get(fn) ?? 0) + micros)
  }
  const ranked = (m: Map<string, number>): Array<[string, number]> => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
  const pct = (micros: number): number => Math.round(micros / Math.max(busy, 1) * 1000) / 10
  return {
    file,
    busySeconds: Math.round(busy / 1e4) / 100,
    byArea: ranked(areas).map(([area, micros]) => ({ area, seconds: Math.round(micros / 1e4) / 100, percent: pct(micros) })),
    topFunctions: ranked(fns).map(([fn, micros]) => ({ fn, seconds: Math.round(micros / 1e4) / 100, percent: pct(micros) }))
  }
}

function shortUrl (url: string): string {
  return url.replace(/^file:\/\//, '').replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '').replace(/^.*?\/((?:libs|services|cli)\/)/, '$1')
}

/**
 * The main thread's profile of each process in a directory, by pid: named as `node --cpu-prof`
 * names them (`CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`). Worker threads write their own
 * (under tsx its module loader is thread 1, busy only at start-up): thread 0 is the work.
 */
export function profilesByPid (dir: string): Map<number, string> {
  const found = new Map<number, string>()
  let entries: string[] = []
  try {
    entries = readdirSync(dir)
  } catch {
    return found
  }
  for (const name of entries) {
    const m = /^CPU\.\d+\.\d+\.(\d+)\.0\.\d+\.cpuprofile$/.exec(name)
    if (m !== null) found.set(Number(m[1]), join(dir, name))
  }
  return found
}
