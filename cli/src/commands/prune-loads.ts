import { requireSetting, type Settings } from '@sisporta/config'
import { createDb } from '@sisporta/db'
import type { Logger } from '@sisporta/observability'
import { sweepRetention, type RetentionReport } from '@sisporta/reconciler'
import { openRegistry } from './context.js'

/**
 * `sisporta loads prune`: one retention pass now, as the operator — the reconciler's pass
 * (`SISPORTA_LOAD_RETENTION`, `SISPORTA_LOAD_RETENTION_KEEP`: old finished loads and their batch
 * ledger rows), plus what only the operator's NATS identity may remove with the shipped
 * permissions: the gateway's open records of loads already removed (older than a day). Run it
 * now and then (a CronJob with the operator's identity) when the services use per-service NATS
 * users; with one identity for all, the reconciler's own pass does it all.
 *
 * @example
 * const report = await pruneLoads(readSettings(), log)
 */
export async function pruneLoads (settings: Settings, log: Logger): Promise<RetentionReport> {
  const db = createDb(requireSetting(settings.mysqlUrl, 'SISPORTA_MYSQL_URL'), { poolSize: 1 })
  const { nc, names, registry, close } = await openRegistry(settings, log).catch(async (err: unknown) => { await db.destroy(); throw err })
  try {
    return await sweepRetention({ nc, names, registry, db, log, policy: { maxAgeSec: settings.loadRetentionSec, keep: settings.loadRetentionKeep } })
  } finally {
    await close()
    await db.destroy()
  }
}

/** The report as an operator reads it. */
export function describePrune (report: RetentionReport): string {
  const streams = Object.entries(report.loads)
  const loads = streams.reduce((n, [, ids]) => n + ids.length, 0)
  const lines = [`${loads} finished load(s) removed${streams.length === 0 ? '' : ` (${streams.map(([s, ids]) => `${s}: ${ids.length}`).join(', ')})`}, ${report.ledgerRows} batch ledger row(s), ${report.orphanOpenRecords} leftover open record(s)`]
  if (report.openRecordsKept > 0) lines.push(`${report.openRecordsKept} open record(s) kept: this NATS identity may not remove them (use the operator's)`)
  return `${lines.join('\n')}\n`
}
