import { reportIsIdentical, type SisportaConfig, type SyncRequest, type VerifyReportRecord } from '@sisporta/contracts'
import { StreamControls, describePause, type StreamControlState } from '@sisporta/nats'
import type { Command } from './command.js'
import { loadContext, openRegistry } from './context.js'
import { UsageError } from '../usage-error.js'

const ACTIONS = ['list', 'pause', 'resume', 'sync', 'verify'] as const
type Action = typeof ACTIONS[number]
const USAGE = 'usage: sisporta streams list [--json] | pause NAME [--reason TEXT] | resume NAME | sync NAME | verify NAME'

/** One configured stream as `streams list` shows it. */
interface StreamLine {
  stream: string
  control: StreamControlState
  /** The pending "sync now" request, if any (a paused stream's waits for its resume). */
  pendingSync: SyncRequest | undefined
  /** The pending verify request, if any (a paused stream's waits for its resume). */
  pendingVerify: SyncRequest | undefined
  /** The stream's latest verify report, if any. */
  lastVerify: VerifyReportRecord | undefined
}

/**
 * `sisporta streams list | pause NAME [--reason TEXT] | resume NAME | sync NAME | verify NAME` (`--json`,
 * `--by NAME`, default `$USER`): the operator's controls of each configured stream, kept in the
 * load registry (`control.<stream>`). A paused stream opens no new load (the gateway answers 409
 * `SIS_GW_STREAM_PAUSED`; a load already open finishes); `sync` asks the extractor daemon for a
 * load now; `verify` asks it to compare the source with the target (`sisporta verify`, run by
 * the daemon, which alone reaches the source) and report to the gateway. NAME must be a stream of the config file (exit 2 otherwise, naming the known ones).
 */
export const streamsCommand: Command = {
  options: {
    reason: { type: 'string' },
    json: { type: 'boolean', default: false },
    by: { type: 'string', default: process.env.USER ?? 'operator' }
  },
  async run (values, positionals) {
    const [action, name, ...extra] = positionals
    if (!ACTIONS.includes(action as Action)) throw new UsageError(USAGE)
    if (action === 'list' ? name !== undefined : name === undefined || extra.length > 0) throw new UsageError(USAGE)
    if (values.reason !== undefined && action !== 'pause') throw new UsageError(`streams ${action}: --reason is for pause only`)
    const { settings, config, log } = loadContext()
    if (name !== undefined) requireStream(config, name, action!)
    const { nc, names, close } = await openRegistry(settings, log)
    try {
      const controls = await StreamControls.bind(nc, names, {
        onMalformed: (key, problem) => { log.warn({ key, problem }, 'malformed stream control record: the stream is treated as paused') }
      })
      const json = values.json === true
      if (action === 'list') {
        const lines = await Promise.all(config.streams.map(async (s): Promise<StreamLine> => {
          const control = await controls.get(s.name)
          const [pendingSync, pendingVerify, lastVerify] = await Promise.all([controls.pendingSync(s.name, control), controls.pendingVerify(s.name, control), controls.verifyReport(s.name)])
          return { stream: s.name, control, pendingSync, pendingVerify, lastVerify }
        }))
        process.stdout.write(json ? `${JSON.stringify(lines.map(toJson), null, 2)}\n` : lines.map(describeLine).join(''))
        return 0
      }
      const by = String(values.by)
      const stream = name!
      if (action === 'pause') {
        const { control, changed } = await controls.pause(stream, { by, reason: typeof values.reason === 'string' ? values.reason : undefined })
        print(json, control, changed ? `${describePause(control)}\n  a load already open finishes; the extractor daemon skips the stream meanwhile\n` : `already paused: ${describePause(control)}\n`)
        return 0
      }
      if (action === 'resume') {
        const { control, changed } = await controls.resume(stream, { by })
        print(json, control, changed ? `stream '${stream}' resumed by ${by}: loads open again\n` : `stream '${stream}' is not paused: nothing to do\n`)
        return 0
      }
      if (action === 'verify') {
        const { control } = await controls.requestVerify(stream, { by })
        const waits = control.paused ? `; the stream is paused: the request is served once it is resumed (sisporta streams resume ${stream})` : ''
        print(json, control, `verify of stream '${stream}' requested by ${by}: the extractor daemon compares the source with the target when it next asks the gateway, and reports; see \`sisporta streams list\`${waits}\n`)
        return 0
      }
      const { control } = await controls.requestSync(stream, { by })
      const waits = control.paused ? `; the stream is paused: the request is served once it is resumed (sisporta streams resume ${stream})` : ''
      print(json, control, `sync of stream '${stream}' requested by ${by}: the extractor daemon opens a load when it next asks the gateway${waits}\n`)
      return 0
    } finally {
      await close()
    }
  }
}

function requireStream (config: SisportaConfig, name: string, action: string): void {
  if (config.stream(name) === undefined) {
    throw new UsageError(`streams ${action}: stream '${name}' is not in ${config.file} (streams: ${config.streams.map((s) => s.name).join(', ')})`)
  }
}

function print (json: boolean, control: StreamControlState, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(control, null, 2)}\n` : text)
}

function toJson (line: StreamLine): Record<string, unknown> {
  return { ...line.control, pendingSync: line.pendingSync ?? null, pendingVerify: line.pendingVerify ?? null, lastVerify: line.lastVerify ?? null }
}

/** `products  paused by alice at … : reason` / `customers  active` and the sync request, if any. */
function describeLine ({ stream, control, pendingSync, pendingVerify, lastVerify }: StreamLine): string {
  let state: string
  if (control.malformed !== undefined) state = `PAUSED (malformed control record: ${control.malformed}; \`sisporta streams resume ${stream}\` rewrites it)`
  else if (control.paused) state = `PAUSED by ${control.pausedBy ?? '?'} at ${control.pausedAt ?? '?'}${control.reason === undefined ? '' : ` — ${control.reason}`}`
  else state = `active${control.resumedBy === undefined ? '' : ` (resumed by ${control.resumedBy} at ${control.resumedAt ?? '?'})`}`
  const sync = pendingSync === undefined ? '' : `\n  sync requested by ${pendingSync.requestedBy} at ${pendingSync.requestedAt}: ${control.paused ? 'waits for the resume' : 'pending'}`
  const verify = pendingVerify === undefined ? '' : `\n  verify requested by ${pendingVerify.requestedBy} at ${pendingVerify.requestedAt}: ${control.paused ? 'waits for the resume' : 'pending'}`
  return `${stream}  ${state}${sync}${verify}${lastVerify === undefined ? '' : `\n  ${describeVerify(lastVerify)}`}\n`
}

/** `verified identical at …` / `verified DIFFERENT at …: 1 missing, 0 extra, 2 different (first keys …)`. */
function describeVerify (r: VerifyReportRecord): string {
  const head = `verified (requested by ${r.requestedBy}) at ${r.reportedAt}`
  if (reportIsIdentical(r)) return `${head}: identical (${r.sourceRows} rows)`
  const keys = (['missing', 'extra', 'different'] as const).filter((k) => r.firstKeys[k].length > 0).map((k) => `${k} ${r.firstKeys[k].map((key) => JSON.stringify(key)).join(' ')}`)
  return `${head}: DIFFERENT${r.approximate ? ' (about)' : ''}: ${r.missing} missing, ${r.extra} extra, ${r.different} different${keys.length === 0 ? '' : `; first keys: ${keys.join('; ')}`}`
}
