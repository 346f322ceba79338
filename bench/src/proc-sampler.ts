import { readFileSync, readdirSync } from 'node:fs'

/** Kernel clock ticks per second (`getconf CLK_TCK`; 100 on Linux/x86-64 and arm64). */
export const CLK_TCK = 100

export interface ProcReading {
  /** Resident set size now (VmRSS), KiB. */
  readonly rssKb: number
  /** Peak resident set size so far (VmHWM), KiB. */
  readonly hwmKb: number
  /** utime + stime, clock ticks. */
  readonly cpuTicks: number
}

/** One reading of /proc/<pid>; undefined once the process is gone. */
export function readProc (pid: number): ProcReading | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the command name (which may hold spaces), which ends at the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime are fields 14 and 15 of stat; fields[0] here is field 3 (state)
    const cpuTicks = Number(fields[11]) + Number(fields[12])
    return { rssKb: kb(status, 'VmRSS'), hwmKb: kb(status, 'VmHWM'), cpuTicks }
  } catch {
    return undefined
  }
}

function kb (status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
  return m === null ? 0 : Number(m[1])
}

/** Pids of the processes whose command name (`/proc/<pid>/comm`) is `comm`. */
export function findPids (comm: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

/** The machine's CPU time so far, in ticks: busy (user … steal) and total. */
export function readMachineCpu (): { busy: number, total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[]
  const busy = user! + nice! + system! + irq! + softirq! + steal!
  return { busy, total: busy + idle! + iowait! }
}

export interface Series {
  readonly name: string
  readonly pid: number
  /** [ms since the sampler started, VmRSS MiB] every interval. */
  readonly rss: Array<[number, number]>
  /** Highest VmHWM seen, KiB. */
  hwmKb: number
  /** Last CPU reading (ticks) while the process lived. */
  cpuTicks: number
  alive: boolean
}

/**
 * Samples VmRSS, VmHWM and CPU time of named processes every `intervalMs` from /proc, keeping
 * the RSS curve and the last readings after a process is gone (VmHWM is the kernel's own peak,
 * so a spike between two samples is not missed).
 */
export class ProcessSampler {
  readonly #series = new Map<string, Series>()
  readonly #t0 = performance.now()
  readonly #timer: NodeJS.Timeout

  constructor (intervalMs = 200) {
    this.#timer = setInterval(() => { this.sampleNow() }, intervalMs)
    this.#timer.unref()
  }

  /** Milliseconds since the sampler started (the time axis of every curve). */
  now (): number {
    return Math.round(performance.now() - this.#t0)
  }

  /**
   * Starts following a process under `name`. A name used again (a restarted persister) keeps
   * the earlier process's series as `name~pid`, so its peak and curve stay in the record.
   */
  track (name: string, pid: number): Series {
    const earlier = this.#series.get(name)
    if (earlier !== undefined) {
      this.#series.delete(name)
      this.#series.set(`${name}~${earlier.pid}`, { ...earlier, name: `${name}~${earlier.pid}` })
    }
    const series: Series = { name, pid, rss: [], hwmKb: 0, cpuTicks: 0, alive: true }
    this.#series.set(name, series)
    this.#sample(series)
    return series
  }

  get (name: string): Series | undefined {
    return this.#series.get(name)
  }

  all (): Series[] {
    return [...this.#series.values()]
  }

  /** Reads every live process now (before stopping one, to keep its last CPU reading). */
  sampleNow (): void {
    for (const series of this.#series.values()) if (series.alive) this.#sample(series)
  }

  /** CPU ticks of every series now: subtract two of these to get a phase's CPU per process. */
  cpuSnapshot (): Map<string, number> {
    this.sampleNow()
    return new Map([...this.#series.values()].map((s) => [s.name, s.cpuTicks]))
  }

  stop (): void {
    clearInterval(this.#timer)
  }

  #sample (series: Series): void {
    const reading = readProc(series.pid)
    if (reading === undefined) {
      series.alive = false
      return
    }
    series.rss.push([this.now(), Math.round(reading.rssKb / 102.4) / 10])
    series.hwmKb = Math.max(series.hwmKb, reading.hwmKb)
    series.cpuTicks = reading.cpuTicks
  }
}
