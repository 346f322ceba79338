import { requireSetting } from '@sisporta/config'
import { isSuccessfulLoad, type LoadRecord } from '@sisporta/contracts'
import { createSourceDialect } from '@sisporta/source'
import { ExtractError, gatewayClientFrom, runLoad, waitForLoad, type LoadProgress } from '@sisporta/extractor'
import type { Logger } from '@sisporta/observability'
import type { Command } from './command.js'
import { loadContext } from './context.js'
import { describeLoad, heldMessage } from './describe-load.js'
import { UsageError, WorkFailed } from '../usage-error.js'

const TIMEOUT = /^([1-9][0-9]*)(s|m|h)$/

/**
 * `sisporta extract --stream NAME [--mode full|incremental] [--reload diff|rows] [--wait] [--timeout 6h] [--allow-writable-login]`: one load
 * now. Without --wait it exits once the load is sealed; with --wait once it is applied (and
 * reconciled, for a full load) — exit 1 if it ends otherwise: held by the delete guard, failed
 * because a batch was dead-lettered (the message names the letter and `sisporta dlq show N`).
 * Any failure while sending — and SIGINT / SIGTERM — abandons the load at once (exit 1); a
 * second signal exits without waiting for that.
 */
export const extractCommand: Command = {
  options: {
    stream: { type: 'string' },
    mode: { type: 'string', default: 'full' },
    wait: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '6h' },
    reload: { type: 'string' },
    'allow-writable-login': { type: 'boolean', default: false }
  },
  async run (values) {
    const { settings, config, log } = loadContext('extractor')
    const name = values.stream
    if (typeof name !== 'string') throw new UsageError('extract: --stream NAME is required')
    const stream = config.stream(name)
    if (stream === undefined) throw new UsageError(`extract: stream '${name}' is not in ${config.file} (streams: ${config.streams.map((s) => s.name).join(', ')})`)
    const mode = values.mode
    if (mode !== 'full' && mode !== 'incremental') throw new UsageError(`extract: --mode must be full or incremental, got '${String(mode)}'`)
    const reload = values.reload ?? stream.source.reload ?? 'diff'
    if (reload !== 'rows' && reload !== 'diff') throw new UsageError(`extract: --reload must be rows or diff, got '${String(reload)}'`)
    const t = TIMEOUT.exec(String(values.timeout))
    if (t === null) throw new UsageError(`extract: --timeout '${String(values.timeout)}' must look like 90s, 30m or 6h`)
    const timeoutMs = Number(t[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[t[2] as 's' | 'm' | 'h']

    const gateway = gatewayClientFrom(settings, log)
    const source = createSourceDialect(requireSetting(settings.sourceUrl, 'SISPORTA_SOURCE_URL'), { log, allowWritableLogin: values['allow-writable-login'] === true || settings.allowWritableLogin, allowPlaintext: settings.allowSourcePlaintext })
    const interrupt = onInterrupt()
    try {
      const started = Date.now()
      let sealed: LoadRecord
      try {
        sealed = await runLoad({ source, gateway, log }, stream, {
          mode,
          reload,
          compareRows: settings.compareRows,
          batchSize: stream.batchSize ?? settings.batchSize,
          inFlight: settings.inFlight,
          maxBatchBytes: settings.maxBatchBytes,
          readAttempts: settings.sourceReadAttempts,
          onProgress: progressPrinter() ?? progressLogger(log.child({ stream: stream.name })),
          signal: interrupt.signal
        })
      } finally {
        await source.close()
      }
      if (process.stderr.isTTY) process.stderr.write('\n')
      const seconds = (Date.now() - started) / 1000
      // a diffed load read (and compared) every source row, whatever few it sent
      const read = sealed.comparedRows ?? sealed.rows ?? 0
      process.stdout.write(`${describeLoad(sealed)} · read and sent in ${seconds.toFixed(1)} s (${Math.round(read / Math.max(seconds, 0.001))} rows/s)\n`)
      if (values.wait !== true) return 0

      let final: LoadRecord
      try {
        final = await waitForLoad(gateway, sealed, { timeoutMs, onChange: (l) => process.stdout.write(`  → ${l.state}\n`), signal: interrupt.signal })
      } catch (err) {
        if (!interrupt.signal.aborted) throw err
        // a sealed load is the pipeline's now: it goes on whether anyone waits or not
        throw new ExtractError('SIS_EXTRACT_INTERRUPTED', `${(interrupt.signal.reason as Error).message} while waiting; load ${sealed.id} of stream '${sealed.stream}' is sealed and goes on (sisporta loads show ${sealed.id})`)
      }
      process.stdout.write(`${describeLoad(final)} · done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
      if (isSuccessfulLoad(final)) return 0
      if (final.state === 'held') throw new WorkFailed('SIS_CLI_LOAD_HELD', heldMessage(final))
      throw new WorkFailed('SIS_CLI_LOAD_FAILED', `load ${final.id} of stream '${final.stream}' ended ${final.state}${final.reason !== undefined ? `: ${final.reason}` : ''}`)
    } finally {
      interrupt.dispose()
    }
  }
}

/**
 * SIGINT and SIGTERM abort the signal (the load in progress is abandoned at once, with the
 * reason); a second one exits at once, leaving the load to SISPORTA_OPEN_TIMEOUT.
 */
function onInterrupt (): { signal: AbortSignal, dispose: () => void } {
  const controller = new AbortController()
  const handler = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      process.stderr.write(`sisporta: ${name} again: exiting without abandoning the load [SIS_EXTRACT_INTERRUPTED]\n`)
      process.exit(1)
    }
    controller.abort(new ExtractError('SIS_EXTRACT_INTERRUPTED', `interrupted by ${name}`))
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    }
  }
}

/** Not on a terminal: a JSON log line every 5 s (rows, rows/s, estimated total). */
function progressLogger (log: Logger): (p: LoadProgress) => void {
  const started = Date.now()
  let last = started
  return (p) => {
    const now = Date.now()
    if (now - last < 5000) return
    last = now
    log.info({ loadId: p.loadId, rows: p.rows, batches: p.batches, rowsPerSec: Math.round(p.rows / ((now - started) / 1000)), estimatedRows: p.estimatedRows }, 'load progress')
  }
}

/** On a terminal: one line redrawn in place (rows, rows/s, ETA when the size is known). */
function progressPrinter (): ((p: LoadProgress) => void) | undefined {
  if (process.stderr.isTTY !== true) return undefined
  const started = Date.now()
  let lastDraw = 0
  return (p) => {
    const now = Date.now()
    if (now - lastDraw < 200) return
    lastDraw = now
    const rate = p.rows / Math.max((now - started) / 1000, 0.001)
    const total = p.estimatedRows
    const pct = total !== undefined && total > 0 ? Math.min(100, 100 * p.rows / total) : undefined
    const eta = total !== undefined && rate > 0 ? Math.max(0, (total - p.rows) / rate) : undefined
    const bar = pct === undefined ? '' : `[${'#'.repeat(Math.round(pct / 5)).padEnd(20, '.')}] ${pct.toFixed(0).padStart(3)}% `
    process.stderr.write(`\r${bar}load ${p.loadId}: ${p.rows} rows, ${p.batches} batches, ${Math.round(rate)} rows/s${eta !== undefined ? `, ETA ${Math.round(eta)} s` : ''}   `)
  }
}
