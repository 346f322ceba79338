import type { Logger } from 'pino'
import { canonicalValue, type StreamConfig } from '@sisporta/contracts'
import { keyOf, type KeyValues, type SourceDialect } from '@sisporta/source'
import type { GatewayClient } from './gateway-client.js'
import { comparePages, DEFAULT_COMPARE_ROWS } from './compare-pages.js'

/** Keys of each kind a verify report names (the counts are of every row). */
export const REPORTED_KEYS = 10
/** Missing and extra keys remembered to be matched across ranges (see verifyStream). */
const REMEMBERED_KEYS = 100_000

export interface VerifyReport {
  readonly stream: string
  readonly sourceRows: number
  readonly targetRows: number
  readonly ranges: number
  /** Source rows the target lacks. */
  readonly missing: number
  /** Target rows the source lacks. */
  readonly extra: number
  /** Rows on both sides whose values differ. */
  readonly different: number
  /** True when the target named only some of its unmatched rows (over 1000 in one range), or too many rows were missing and extra to match them all across ranges: the split between the kinds is then a bound. */
  readonly approximate: boolean
  /** Of `different`: keys found missing in one range and extra in another (the source and the target order keys differently: a collation); their values may even be equal. */
  readonly reordered: number
  readonly firstKeys: { readonly missing: KeyValues[], readonly extra: unknown[][], readonly different: KeyValues[] }
  readonly seconds: number
}

export interface VerifyOptions {
  readonly pageSize: number
  readonly compareRows?: number
  readonly inFlight: number
  readonly readAttempts?: number
  readonly signal?: AbortSignal
}

/**
 * `sisporta verify` (docs/reloads.md): the comparison of a diffed reload alone. Reads the source
 * in key order, has the persisters compare each key range with the target through the gateway
 * (`POST /v1/streams/:stream/compare`: nothing is written), and tells rows missing from the
 * target, extra in it, and different, with the first keys of each.
 *
 * A row whose key is among the target's unmatched rows of its range differs; the other source
 * rows asked for are missing; the other unmatched target rows are extra. Where the source and
 * the target order keys differently (a case-insensitive source collation, a binary target), a row
 * can fall in one range on one side and in another on the other: it is then missing from one
 * range and extra in another. Such keys are matched across ranges at the end and counted as
 * different (`reordered`), not as one missing and one extra row.
 */
export async function verifyStream (deps: { source: SourceDialect, gateway: GatewayClient, log: Logger }, stream: StreamConfig, options: VerifyOptions): Promise<VerifyReport> {
  const started = performance.now()
  const keyColumns = stream.target.key.map((k) => stream.columns.find((c) => c.name === k)!)
  const keyText = (key: readonly unknown[]): string => JSON.stringify(key.map((v, i) => canonicalValue(keyColumns[i]!, v) ?? `\u0000${JSON.stringify(v)}`))
  let sourceRows = 0
  let targetRows = 0
  let ranges = 0
  let missing = 0
  let extra = 0
  let different = 0
  let approximate = false
  const differentKeys: KeyValues[] = []
  const missingKeys = new Map<string, KeyValues>()
  const extraKeys = new Map<string, unknown[]>()
  const remember = <K>(keys: Map<string, K>, text: string, key: K): void => {
    if (missingKeys.size + extraKeys.size < REMEMBERED_KEYS) keys.set(text, key)
    else approximate = true
  }
  await comparePages(deps.source, stream,
    async (body) => await deps.gateway.compare(stream.name, undefined, body, options.signal === undefined ? {} : { signal: options.signal }),
    (range) => {
      ranges++
      sourceRows += range.rows.length
      targetRows += range.reply.targetRows
      const unmatched = new Map(range.reply.unmatchedKeys.map((k) => [keyText(k), k]))
      if (range.reply.unmatchedKeys.length < range.reply.unmatched) approximate = true
      let differentHere = 0
      for (const row of range.differing) {
        const key = keyOf(stream, row)
        const text = keyText(key)
        if (unmatched.delete(text)) {
          differentHere++
          if (differentKeys.length < REPORTED_KEYS) differentKeys.push(key)
        } else {
          missing++
          remember(missingKeys, text, key)
        }
      }
      different += differentHere
      extra += range.reply.unmatched - differentHere
      for (const [text, key] of unmatched) remember(extraKeys, text, key)
    },
    { pageSize: options.pageSize, compareRows: options.compareRows ?? DEFAULT_COMPARE_ROWS, inFlight: options.inFlight, log: deps.log, ...(options.readAttempts === undefined ? {} : { readAttempts: options.readAttempts }), ...(options.signal === undefined ? {} : { signal: options.signal }) })
  let reordered = 0
  for (const [text, key] of missingKeys) {
    if (!extraKeys.delete(text)) continue
    missingKeys.delete(text)
    reordered++
    if (differentKeys.length < REPORTED_KEYS) differentKeys.push(key)
  }
  const firstKeys = { missing: [...missingKeys.values()].slice(0, REPORTED_KEYS), extra: [...extraKeys.values()].slice(0, REPORTED_KEYS), different: differentKeys }
  return { stream: stream.name, sourceRows, targetRows, ranges, missing: missing - reordered, extra: extra - reordered, different: different + reordered, reordered, approximate, firstKeys, seconds: (performance.now() - started) / 1000 }
}

/** Whether the report found the target identical to the source. */
export function isIdentical (report: VerifyReport): boolean {
  return report.missing === 0 && report.extra === 0 && report.different === 0
}
