import { cpus, loadavg, totalmem, release } from 'node:os'
import type { Connection } from 'mysql2/promise'

/** The MariaDB settings that decide how fast it can write (read, never changed by the bench). */
export const SERVER_VARIABLES = [
  'innodb_flush_log_at_trx_commit', 'log_bin', 'sync_binlog', 'binlog_format', 'innodb_buffer_pool_size',
  'innodb_log_file_size', 'innodb_log_buffer_size', 'innodb_flush_method', 'innodb_doublewrite', 'innodb_io_capacity',
  'max_allowed_packet', 'local_infile'
] as const

/** Server counters whose change over a phase shows what MariaDB did (bytes, fsyncs, rows). */
export const SERVER_COUNTERS = [
  'Innodb_data_written', 'Innodb_os_log_written', 'Innodb_data_fsyncs', 'Innodb_os_log_fsyncs', 'Innodb_rows_inserted',
  'Innodb_rows_updated', 'Innodb_rows_deleted', 'Innodb_rows_read', 'Innodb_buffer_pool_reads', 'Innodb_buffer_pool_read_requests',
  'Innodb_buffer_pool_wait_free', 'Innodb_log_waits', 'Innodb_row_lock_waits', 'Innodb_row_lock_time', 'Innodb_deadlocks', 'Handler_commit', 'Com_insert', 'Com_update', 'Com_commit', 'Questions', 'Bytes_received'
] as const

export interface MachineInfo {
  readonly cores: number
  readonly cpuModel: string
  readonly memoryMb: number
  readonly kernel: string
  readonly node: string
  readonly mariadb: string
  readonly nats: string | undefined
  readonly serverSettings: Record<string, string>
  /** 1, 5 and 15 minute load averages when the run started. */
  readonly loadAverageAtStart: readonly number[]
}

/** What the machine and the servers are, for the record. */
export async function machineInfo (admin: Connection, natsVersion: string | undefined): Promise<MachineInfo> {
  const [versionRows] = await admin.query('SELECT VERSION() AS v') as unknown as [Array<{ v: string }>]
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryMb: Math.round(totalmem() / 1024 / 1024),
    kernel: release(),
    node: process.version,
    mariadb: versionRows[0]!.v,
    nats: natsVersion,
    serverSettings: await serverVariables(admin),
    loadAverageAtStart: loadavg().map((n) => Math.round(n * 100) / 100)
  }
}

async function serverVariables (admin: Connection): Promise<Record<string, string>> {
  const [rows] = await admin.query(`SHOW GLOBAL VARIABLES WHERE Variable_name IN (${SERVER_VARIABLES.map(() => '?').join(', ')})`, [...SERVER_VARIABLES]) as unknown as [Array<{ Variable_name: string, Value: string }>]
  return Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value]))
}

/** The server counters now. */
export async function serverCounters (admin: Connection): Promise<Record<string, number>> {
  const [rows] = await admin.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (${SERVER_COUNTERS.map(() => '?').join(', ')})`, [...SERVER_COUNTERS]) as unknown as [Array<{ Variable_name: string, Value: string }>]
  return Object.fromEntries(rows.map((r) => [r.Variable_name, Number(r.Value)]))
}

/** after − before, counter by counter. */
export function counterDelta (before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)]))
}

/** Dirty pages in the buffer pool and the pool's size (pages). */
export async function dirtyPages (admin: Connection): Promise<{ dirty: number, total: number }> {
  const [rows] = await admin.query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_pages_dirty', 'Innodb_buffer_pool_pages_total')") as unknown as [Array<{ Variable_name: string, Value: string }>]
  const v = Object.fromEntries(rows.map((r) => [r.Variable_name, Number(r.Value)]))
  return { dirty: v.Innodb_buffer_pool_pages_dirty ?? 0, total: v.Innodb_buffer_pool_pages_total ?? 1 }
}

export function loadAverage (): number[] {
  return loadavg().map((n) => Math.round(n * 100) / 100)
}
