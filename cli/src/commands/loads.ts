import type { LoadRecord } from '@sisporta/contracts'
import { readSettings } from '@sisporta/config'
import type { Command } from './command.js'
import { cliLogger, openRegistry } from './context.js'
import { describeLoad } from './describe-load.js'
import { UsageError, WorkFailed } from '../usage-error.js'

function loadId (raw: string | undefined, action: string): number {
  const id = Number(raw)
  if (raw === undefined || !Number.isInteger(id) || id < 1) throw new UsageError(`loads ${action}: give the load id, e.g. sisporta loads ${action} 42`)
  return id
}

/**
 * `sisporta loads list|show|approve|discard`: the operator's view of the load registry.
 * Approving lets a held load delete; discarding drops a load so it never deletes anything.
 */
export const loadsCommand: Command = {
  options: {
    stream: { type: 'string' },
    json: { type: 'boolean', default: false },
    by: { type: 'string', default: process.env.USER ?? 'operator' }
  },
  async run (values, positionals) {
    const [action, rawId] = positionals
    const settings = readSettings()
    const log = cliLogger(settings)
    if (!['list', 'show', 'approve', 'discard'].includes(action ?? '')) throw new UsageError('usage: sisporta loads list|show ID|approve ID|discard ID')
    const { registry, close } = await openRegistry(settings, log)
    try {
      if (action === 'list') {
        const loads = await registry.list(typeof values.stream === 'string' ? { stream: values.stream } : {})
        if (values.json === true) process.stdout.write(`${JSON.stringify(loads, null, 2)}\n`)
        else if (loads.length === 0) process.stdout.write('no loads\n')
        else for (const load of loads) process.stdout.write(`${describeLoad(load)}${load.reason !== undefined ? ` — ${load.reason}` : ''}\n`)
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
