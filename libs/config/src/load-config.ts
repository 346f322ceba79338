import { readFileSync } from 'node:fs'
import { parseDocument } from 'yaml'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { ValueError } from '@sinclair/typebox/errors'
import { ConfigFileSchema, STREAM_DEFAULTS, type ConfigFileInput, type SisportaConfig, type StreamConfig } from '@sisporta/contracts'
import { ConfigError } from './errors.js'
import { interpolateEnv } from './interpolate-env.js'
import { checkStreams } from './check-streams.js'

const checkFile = TypeCompiler.Compile(ConfigFileSchema)

/**
 * Reads, interpolates and validates a sisporta config file. Every problem is a `ConfigError`
 * (exit code 2) whose message names the file, the stream and the key.
 *
 * @example
 * const config = loadConfig('sisporta.yaml', process.env)
 * config.stream('products')?.target.table
 */
export function loadConfig (file: string, env: Record<string, string | undefined> = process.env): SisportaConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError('SIS_CFG_UNREADABLE', `${file}: cannot read config file (${(err as Error).message})`, { cause: err })
  }
  return parseConfig(text, file, env)
}

/** Same as {@link loadConfig} for text already in memory (`file` only names it in messages). */
export function parseConfig (text: string, file: string, env: Record<string, string | undefined> = process.env): SisportaConfig {
  const doc = parseDocument(interpolateEnv(text, env, file), { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!
    throw new ConfigError('SIS_CFG_YAML', `${file}: invalid YAML at line ${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0]}`)
  }
  const raw: unknown = doc.toJS()
  if (!checkFile.Check(raw)) {
    const first = pickError([...checkFile.Errors(raw)])
    throw new ConfigError('SIS_CFG_INVALID', `${file}: ${describeError(raw, first)}`)
  }
  const input = raw as ConfigFileInput
  checkStreams(input, file)
  const streams: StreamConfig[] = input.streams.map((s) => deepFreeze({
    ...s,
    deletes: s.deletes ?? STREAM_DEFAULTS.deletes,
    maxDeleteRatio: s.maxDeleteRatio ?? STREAM_DEFAULTS.maxDeleteRatio
  }))
  const byName = new Map(streams.map((s) => [s.name, s]))
  return Object.freeze({
    file,
    streams: Object.freeze(streams),
    stream: (name: string) => byName.get(name)
  })
}

/** TypeBox reports a union mismatch before the precise cause; prefer the most specific error. */
function pickError (errors: ValueError[]): ValueError {
  const additional = errors.find((e) => e.message.includes('Unexpected property') || e.message.includes('additional'))
  if (additional !== undefined) return additional
  return errors.reduce((best, e) => (e.path.split('/').length > best.path.split('/').length ? e : best), errors[0]!)
}

function describeError (raw: unknown, error: ValueError): string {
  const parts = error.path.split('/').filter(Boolean)
  let where = ''
  if (parts[0] === 'streams' && parts[1] !== undefined) {
    const stream = (raw as { streams: { name?: unknown }[] }).streams[Number(parts[1])]
    const name = typeof stream?.name === 'string' ? `'${stream.name}'` : `#${Number(parts[1]) + 1}`
    where = `stream ${name}`
    const rest = parts.slice(2)
    if (rest[0] === 'columns' && rest[1] !== undefined) {
      const column = (stream as { columns?: { name?: unknown }[] } | undefined)?.columns?.[Number(rest[1])]
      where += `, columns[${rest[1]}]${typeof column?.name === 'string' ? ` (${column.name})` : ''}`
      rest.splice(0, 2)
    }
    if (rest.length > 0) where += `, key '${rest.join('.')}'`
  } else if (parts.length > 0) {
    where = `key '${parts.join('.')}'`
  }
  // a pattern's own text says little ('^[^\u0000-…]{0,63}…'): its schema's description says what it wants
  const described = typeof error.schema.pattern === 'string' && typeof error.schema.description === 'string' ? `expected ${error.schema.description}` : error.message
  const what = error.message.includes('Unexpected property')
    ? 'unknown key'
    : `${described}${error.value !== undefined && typeof error.value !== 'object' ? ` (got ${JSON.stringify(error.value)})` : ''}`
  return where === '' ? what : `${where}: ${what}`
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
