/** One sample of a Prometheus text exposition. */
export interface PromSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Parses the text `/metrics` serves (comments skipped). */
export function parsePromText (text: string): PromSample[] {
  const samples: PromSample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1')
    samples.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) })
  }
  return samples
}

/** Fetches and parses a service's `/metrics`; an empty list when it does not answer. */
export async function scrape (baseUrl: string): Promise<PromSample[]> {
  try {
    const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) })
    return res.ok ? parsePromText(await res.text()) : []
  } catch {
    return []
  }
}

export interface HistogramSummary {
  readonly count: number
  /** Mean, seconds. */
  readonly mean: number
  /** Estimated from the buckets like PromQL's histogram_quantile (linear within a bucket). */
  readonly p50: number
  readonly p90: number
  readonly p99: number
}

type LabelFilter = Readonly<Record<string, string>>

function matches (labels: Readonly<Record<string, string>>, filter: LabelFilter): boolean {
  return Object.entries(filter).every(([k, v]) => labels[k] === v)
}

/** Cumulative buckets (le → count) of a histogram, summed over the series `filter` selects. */
function buckets (samples: readonly PromSample[], name: string, filter: LabelFilter): { le: Map<number, number>, sum: number, count: number } {
  const le = new Map<number, number>()
  let sum = 0
  let count = 0
  for (const s of samples) {
    if (!matches(s.labels, filter)) continue
    if (s.name === `${name}_bucket`) {
      const bound = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le)
      le.set(bound, (le.get(bound) ?? 0) + s.value)
    } else if (s.name === `${name}_sum`) sum += s.value
    else if (s.name === `${name}_count`) count += s.value
  }
  return { le, sum, count }
}

/**
 * What a histogram observed between two scrapes of the same process (`before` may be empty:
 * the process started within the window), summarised as count, mean and quantiles in seconds.
 * Undefined when nothing was observed.
 */
export function histogramDelta (before: readonly PromSample[], after: readonly PromSample[], name: string, filter: LabelFilter = {}): HistogramSummary | undefined {
  const a = buckets(after, name, filter)
  const b = buckets(before, name, filter)
  const count = a.count - b.count
  if (count <= 0) return undefined
  const bounds = [...a.le.keys()].sort((x, y) => x - y)
  const cumulative = bounds.map((bound) => [bound, (a.le.get(bound) ?? 0) - (b.le.get(bound) ?? 0)] as const)
  const quantile = (q: number): number => {
    const rank = q * count
    let prevBound = 0
    let prevCount = 0
    for (const [bound, c] of cumulative) {
      if (c >= rank) {
        if (bound === Infinity) return prevBound
        const inBucket = c - prevCount
        return inBucket <= 0 ? bound : prevBound + (bound - prevBound) * (rank - prevCount) / inBucket
      }
      prevBound = bound
      prevCount = c
    }
    return prevBound
  }
  return { count, mean: (a.sum - b.sum) / count, p50: quantile(0.5), p90: quantile(0.9), p99: quantile(0.99) }
}

/** The sum of a counter (or gauge) over the series `filter` selects. */
export function sumOf (samples: readonly PromSample[], name: string, filter: LabelFilter = {}): number {
  let total = 0
  for (const s of samples) if (s.name === name && matches(s.labels, filter)) total += s.value
  return total
}

/** Merges histograms of several processes (persister replicas) into one sample list. */
export function mergeScrapes (scrapes: ReadonlyArray<readonly PromSample[]>): PromSample[] {
  return scrapes.flat()
}
