import type { LoadRecord } from '@sisporta/contracts'
import { readSettings } from '@sisporta/config'
import type { Command } from './command.js'
import { cliLogger, openRegistry } from './context.js'
import { describePrune, pruneLoads } from './prune-loads.js'
import { describeLoad } from './describe-load.js'
import { filterLoads, formatDuration, loadTiming, parseLimit, parseSince, parseStates } from './load-history.js'
import { UsageError, WorkFailed } from '../usage-error.js'

const time = (iso: string | undefined): string => iso === undefined ? '—' : `${iso.slice(0, 19).replace('T', ' ')}Z`

/** `loads list` for people: one aligned line per load, with its start, end and duration. */
function loadsTable (rows: ReadonlyArray<LoadRecord & ReturnType<typeof loadTiming>>): string {
  const header = ['ID', 'STREAM', 'MODE', 'STATE', 'START', 'END', 'DURATION', 'ROWS', 'REASON']
  const lines = rows.map((r) => [String(r.id), r.stream, r.mode, r.state, time(r.startedAt), time(r.endedAt),
    `${formatDuration(r.durationMs)}${r.endedAt === undefined ? '…' : ''}`, r.rows === undefined ? '—' : String(r.rows), r.reason ?? ''])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  return [header, ...lines].map((l) => l.map((cell, i) => i === l.length - 1 ? cell : cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n'
}

function loadId (raw: string | undefined, action: string): number {
  const id = Number(raw)
  if (raw === undefined || !Number.isInteger(id) || id < 1) throw new UsageError(`loads ${action}: give the load id, e.g. sisporta loads ${action} 42`)
  return id
}

/**
 * `sisporta loads list|show|approve|discard|prune`: the operator's view of the load registry.
 * Approving lets a held load delete; discarding drops a load so it never deletes anything;
 * pruning runs a retention pass now (see prune-loads.ts).
 */
export const loadsCommand: Command = {
  options: {
    stream: { type: 'string' },
    state: { type: 'string', multiple: true },
    since: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean', default: false },
    by: { type: 'string', default: process.env.USER ?? 'operator' }
  },
  async run (values, positionals) {
    const [action, rawId] = positionals
    const settings = readSettings()
    const log = cliLogger(settings)
    if (!['list', 'show', 'approve', 'discard', 'prune'].includes(action ?? '')) throw new UsageError('usage: sisporta loads list|show ID|approve ID|discard ID|prune')
    if (action === 'prune') {
      const report = await pruneLoads(settings, log)
      process.stdout.write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : describePrune(report))
      return 0
    }
    // options checked before anything is reached: a typo exits 2 at once
    const now = Date.now()
    const filter = action === 'list'
      ? { states: parseStates(values.state as string[] | undefined), since: parseSince(values.since as string | undefined, now), limit: parseLimit(values.limit as string | undefined), stream: values.stream as string | undefined }
      : undefined
    const { registry, close } = await openRegistry(settings, log)
    try {
      if (filter !== undefined) {
        const loads = filterLoads(await registry.list(filter.stream === undefined ? {} : { stream: filter.stream }), filter)
        const rows = loads.map((load) => ({ ...load, ...loadTiming(load, now) }))
        if (values.json === true) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`)
        else if (rows.length === 0) process.stdout.write('no loads\n')
        else process.stdout.write(loadsTable(rows))
        return 0
      }
      const id = loadId(rawId, action!)
      const entry = await registry.find(id)
      if (entry === undefined) throw new WorkFailed('SIS_CLI_LOAD_UNKNOWN', `load ${id} does not exist in namespace '${settings.namespace}'`)
      if (action === 'show') {
        process.stdout.write(values.json === true ? `${JSON.stringify(entry.load, null, 2)}\n` : `${describeLoad(entry.load)}\n${JSON.stringify(entry.load, null, 2)}\n`)
        return 0
      }
      const by = String(values.by)
      const result = await registry.transition(entry.load.stream, id, (load: LoadRecord) => {
        if (action === 'approve') {
          if (load.state !== 'held') throw new WorkFailed('SIS_CLI_NOT_HELD', `load ${id} is ${load.state}; only a held load can be approved`)
          return { ...load, state: 'approved', approvedBy: by }
        }
        if (!['held', 'open', 'sealed', 'applied'].includes(load.state)) throw new WorkFailed('SIS_CLI_NOT_DISCARDABLE', `load ${id} is ${load.state}; it cannot be discarded any more`)
        return { ...load, state: 'discarded', discardedBy: by, reason: `discarded by ${by}` }
      })
      process.stdout.write(`${describeLoad(result.load)}\n`)
      return 0
    } finally {
      await close()
    }
  }
}
