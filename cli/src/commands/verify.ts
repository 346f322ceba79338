import { requireSetting } from '@sisporta/config'
import { isSuccessfulLoad, type LoadRecord, type StreamConfig } from '@sisporta/contracts'
import { createSourceDialect, type SourceDialect } from '@sisporta/source'
import { gatewayClientFrom, isIdentical, runLoad, verifyStream, waitForLoad, type GatewayClient, type VerifyReport } from '@sisporta/extractor'
import type { Logger } from '@sisporta/observability'
import type { Settings } from '@sisporta/config'
import type { Command } from './command.js'
import { loadContext } from './context.js'
import { describeLoad, heldMessage } from './describe-load.js'
import { UsageError, WorkFailed } from '../usage-error.js'

/**
 * `sisporta verify --stream NAME [--repair] [--json]`: is the target a mirror of the source?
 * The range comparison of a diffed reload alone (docs/reloads.md), through the gateway, writing
 * nothing: rows missing from the target, extra in it, different — counts and first keys. Exit 0
 * when identical, 1 when not. `--repair` then runs a diffed reload (only what differs is sent;
 * its deletes pass the delete guard), waits for it, and verifies again: exit 0 once identical.
 */
export const verifyCommand: Command = {
  options: {
    stream: { type: 'string' },
    repair: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'allow-writable-login': { type: 'boolean', default: false }
  },
  async run (values) {
    const { settings, config, log } = loadContext('extractor')
    const name = values.stream
    if (typeof name !== 'string') throw new UsageError('verify: --stream NAME is required')
    const stream = config.stream(name)
    if (stream === undefined) throw new UsageError(`verify: stream '${name}' is not in ${config.file} (streams: ${config.streams.map((s) => s.name).join(', ')})`)
    const json = values.json === true
    const gateway = gatewayClientFrom(settings, log)
    const source = createSourceDialect(requireSetting(settings.sourceUrl, 'SISPORTA_SOURCE_URL'), { log, allowWritableLogin: values['allow-writable-login'] === true || settings.allowWritableLogin, allowPlaintext: settings.allowSourcePlaintext })
    try {
      const first = await verifyOnce(source, gateway, stream, settings, log)
      const out: { before: VerifyReport, repair?: LoadRecord, after?: VerifyReport } = { before: first }
      if (!json) process.stdout.write(formatReport(first))
      if (values.repair !== true || isIdentical(first)) {
        if (json) process.stdout.write(JSON.stringify(out, null, 2) + '\n')
        return isIdentical(first) ? 0 : 1
      }
      const repair = await repairStream(source, gateway, stream, settings, log)
      out.repair = repair
      if (!json) process.stdout.write(`repair: ${describeLoad(repair)}\n`)
      if (!isSuccessfulLoad(repair)) {
        if (json) process.stdout.write(JSON.stringify(out, null, 2) + '\n')
        if (repair.state === 'held') throw new WorkFailed('SIS_CLI_LOAD_HELD', heldMessage(repair))
        throw new WorkFailed('SIS_CLI_LOAD_FAILED', `repair: load ${repair.id} of stream '${repair.stream}' ended ${repair.state}${repair.reason !== undefined ? `: ${repair.reason}` : ''}`)
      }
      const after = await verifyOnce(source, gateway, stream, settings, log)
      out.after = after
      if (json) process.stdout.write(JSON.stringify(out, null, 2) + '\n')
      else process.stdout.write(`after the repair: ${formatReport(after)}`)
      return isIdentical(after) ? 0 : 1
    } finally {
      await source.close()
    }
  }
}

async function verifyOnce (source: SourceDialect, gateway: GatewayClient, stream: StreamConfig, settings: Settings, log: Logger): Promise<VerifyReport> {
  return await verifyStream({ source, gateway, log }, stream, {
    pageSize: stream.batchSize ?? settings.batchSize,
    compareRows: settings.compareRows,
    inFlight: settings.inFlight,
    readAttempts: settings.sourceReadAttempts
  })
}

/** A diffed reload of the stream, waited for. */
async function repairStream (source: SourceDialect, gateway: GatewayClient, stream: StreamConfig, settings: Settings, log: Logger): Promise<LoadRecord> {
  const sealed = await runLoad({ source, gateway, log }, stream, {
    mode: 'full',
    reload: 'diff',
    compareRows: settings.compareRows,
    batchSize: stream.batchSize ?? settings.batchSize,
    inFlight: settings.inFlight,
    maxBatchBytes: settings.maxBatchBytes,
    readAttempts: settings.sourceReadAttempts
  })
  if (sealed.reload !== 'diff') log.warn({ loadId: sealed.id }, 'the gateway opened the repair as a load of every row (the stream has no reconciled full load, or another load may still write)')
  return await waitForLoad(gateway, sealed, { timeoutMs: 6 * 3_600_000 })
}

/** The human report: a summary line, then each kind of difference with its first keys. */
export function formatReport (r: VerifyReport): string {
  const rate = Math.round(r.sourceRows / Math.max(r.seconds, 0.001))
  const lines = [`stream ${r.stream}: ${r.sourceRows} source rows, ${r.targetRows} target rows, compared in ${r.ranges} ranges (${r.seconds.toFixed(1)} s, ${rate} rows/s): ${isIdentical(r) ? 'identical' : 'DIFFERENT'}`]
  const kinds = [['missing', 'missing from the target', r.missing, r.firstKeys.missing], ['extra', 'in the target only', r.extra, r.firstKeys.extra], ['different', 'with other values', r.different, r.firstKeys.different]] as const
  for (const [, what, count, keys] of kinds) {
    if (count === 0) continue
    lines.push(`  ${count} rows ${what}${r.approximate ? ' (about)' : ''}; first keys: ${keys.map((k) => JSON.stringify(k)).join(' ')}`)
  }
  if (r.reordered > 0) lines.push(`  ${r.reordered} of the different rows fell in one key range on the source and another on the target (the two order keys differently: a collation); their values may be equal. A diffed reload sends them every time (docs/reloads.md)`)
  if (!isIdentical(r)) lines.push(`  repair: sisporta verify --stream ${r.stream} --repair (sends only what differs; deletes pass the delete guard)`)
  return lines.join('\n') + '\n'
}
