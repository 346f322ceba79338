import type { StreamConfig, WireType, WireValue } from '@sisporta/contracts'
import { quoteId } from '@sisporta/db'
import { createSourceDialect, keyOf, streamPages, type SourceDialect, type WireRow } from '@sisporta/source'

export interface StreamComparison {
  readonly stream: string
  readonly sourceRows: number
  readonly targetRows: number
  /** Keys present in the source only / in the target only. */
  readonly missing: number
  readonly extra: number
  /** Rows present on both sides whose values differ. */
  readonly different: number
  /** A few examples, for the message. */
  readonly examples: string[]
  readonly equal: boolean
}

/**
 * The view of a stream's target table as a source: same columns, read from MySQL. Reading both
 * sides through the source dialect puts both into the canonical wire format, so the comparison
 * is value for value, not string for string. Soft-deleted rows are not part of the mirror.
 */
export function targetAsSource (stream: StreamConfig): StreamConfig {
  const columns = stream.columns.map((c) => ({ ...c, from: c.name }))
  const list = columns.map((c) => quoteId(c.name)).join(', ')
  const source = stream.deletes === 'soft'
    ? { query: `SELECT ${list} FROM ${quoteId(stream.target.table)} WHERE ${quoteId('_sisporta_deleted_at')} IS NULL` }
    : { table: stream.target.table }
  return { ...stream, source, columns }
}

/** Canonical form for comparison: equal values compare equal whatever scale or precision the column shows them with. */
export function canonicalValue (type: WireType, value: WireValue): string {
  if (value === null) return 'null'
  switch (type) {
    case 'decimal': {
      let [int, frac = ''] = String(value).split('.')
      const negative = int!.startsWith('-')
      int = int!.replace(/^-/, '').replace(/^0+(?=\d)/, '')
      frac = frac.replace(/0+$/, '')
      const text = frac === '' ? int : `${int}.${frac}`
      return negative && text !== '0' ? `-${text}` : text
    }
    case 'datetime': {
      const [base, frac = ''] = String(value).split('.')
      const trimmed = frac.replace(/0+$/, '')
      return trimmed === '' ? base! : `${base!}.${trimmed}`
    }
    case 'json':
      return stableJson(typeof value === 'string' ? JSON.parse(value) : value)
    default:
      return JSON.stringify(value)
  }
}

function stableJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

function compareKeys (a: readonly WireValue[], b: readonly WireValue[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    if (x === y) continue
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1
    if (typeof x === 'string' && typeof y === 'string' && /^-?\d+$/.test(x) && /^-?\d+$/.test(y)) {
      const d = BigInt(x) - BigInt(y)
      if (d !== 0n) return d < 0n ? -1 : 1
      continue
    }
    // Byte order, as a binary collation sorts: the target's key order.
    return Buffer.compare(Buffer.from(String(x)), Buffer.from(String(y)))
  }
  return 0
}

async function * rowsOf (dialect: SourceDialect, stream: StreamConfig): AsyncGenerator<WireRow> {
  for await (const page of streamPages(dialect, stream, 2000)) yield * page
}

/**
 * Reads a stream's source and its target and counts missing, extra and differing rows, value
 * for value in canonical form. Both sides are held in memory (the source's collation and the
 * target's binary collation order keys differently, so they cannot simply be merged): meant for
 * the demo and the tests, not for verifying million-row tables.
 */
export async function compareStream (stream: StreamConfig, sourceUrl: string, targetUrl: string): Promise<StreamComparison> {
  const source = createSourceDialect(sourceUrl)
  const target = createSourceDialect(targetUrl)
  try {
    const read = async (dialect: SourceDialect, s: StreamConfig): Promise<Map<string, WireRow>> => {
      const rows = new Map<string, WireRow>()
      for await (const row of rowsOf(dialect, s)) rows.set(JSON.stringify(keyOf(s, row)), row)
      return rows
    }
    const targetStream = targetAsSource(stream)
    const [a, b] = await Promise.all([read(source, stream), read(target, targetStream)])
    let missing = 0
    let extra = 0
    let different = 0
    const examples: string[] = []
    const keys = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => compareKeys(JSON.parse(x), JSON.parse(y)))
    for (const key of keys) {
      const s = a.get(key)
      const t = b.get(key)
      if (t === undefined) {
        missing++
        if (examples.length < 5) examples.push(`missing in target: ${key}`)
      } else if (s === undefined) {
        extra++
        if (examples.length < 5) examples.push(`extra in target: ${key}`)
      } else {
        const col = stream.columns.findIndex((c, i) => canonicalValue(c.type, s[i]!) !== canonicalValue(c.type, t[i]!))
        if (col >= 0) {
          different++
          const c = stream.columns[col]!
          if (examples.length < 5) examples.push(`${key} ${c.name}: source ${canonicalValue(c.type, s[col]!).slice(0, 60)} ≠ target ${canonicalValue(c.type, t[col]!).slice(0, 60)}`)
        }
      }
    }
    return { stream: stream.name, sourceRows: a.size, targetRows: b.size, missing, extra, different, examples, equal: missing + extra + different === 0 }
  } finally {
    await Promise.all([source.close(), target.close()])
  }
}
