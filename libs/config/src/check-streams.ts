import type { ConfigFileInput } from '@sisporta/contracts'
import { ConfigError } from './errors.js'

const NON_KEY_TYPES = new Set(['float', 'json', 'binary'])

/** Checks what a schema cannot: cross-references inside and between streams. */
export function checkStreams (input: ConfigFileInput, file: string): void {
  const names = new Set<string>()
  const targets = new Map<string, string>()
  for (const s of input.streams) {
    const where = `${file}: stream '${s.name}'`
    if (names.has(s.name)) throw new ConfigError('SIS_CFG_DUPLICATE_STREAM', `${where}, key 'name': stream name used twice`)
    names.add(s.name)
    const other = targets.get(s.target.table)
    if (other !== undefined) throw new ConfigError('SIS_CFG_DUPLICATE_TARGET', `${where}, key 'target.table': table '${s.target.table}' is already the target of stream '${other}'`)
    targets.set(s.target.table, s.name)
    if ((s.source.table === undefined) === (s.source.query === undefined)) {
      throw new ConfigError('SIS_CFG_SOURCE', `${where}, key 'source': give exactly one of 'table' or 'query'`)
    }
    const columns = new Map<string, typeof s.columns[number]>()
    const froms = new Set<string>()
    for (const [i, c] of s.columns.entries()) {
      const at = `${where}, columns[${i}] (${c.name})`
      if (columns.has(c.name)) throw new ConfigError('SIS_CFG_DUPLICATE_COLUMN', `${at}, key 'name': target column declared twice`)
      if (froms.has(c.from.toLowerCase())) throw new ConfigError('SIS_CFG_DUPLICATE_COLUMN', `${at}, key 'from': source column '${c.from}' is mapped twice`)
      if (c.name.startsWith('_sisporta')) throw new ConfigError('SIS_CFG_RESERVED', `${at}, key 'name': names starting with _sisporta are reserved`)
      if ((c.precision !== undefined || c.scale !== undefined) && c.type !== 'decimal') {
        throw new ConfigError('SIS_CFG_COLUMN', `${at}, key '${c.precision !== undefined ? 'precision' : 'scale'}': only decimal columns have precision and scale`)
      }
      if (c.precision !== undefined && c.scale !== undefined && c.scale > c.precision) {
        throw new ConfigError('SIS_CFG_COLUMN', `${at}, key 'scale': scale ${c.scale} is larger than precision ${c.precision}`)
      }
      if (c.length !== undefined && c.type !== 'string' && c.type !== 'binary') {
        throw new ConfigError('SIS_CFG_COLUMN', `${at}, key 'length': only string and binary columns have a length`)
      }
      columns.set(c.name, c)
      froms.add(c.from.toLowerCase())
    }
    for (const [i, key] of s.target.key.entries()) {
      const column = columns.get(key)
      if (column === undefined) {
        throw new ConfigError('SIS_CFG_KEY_UNMAPPED', `${where}, key 'target.key[${i}]': key column '${key}' has no mapping in 'columns'`)
      }
      if (NON_KEY_TYPES.has(column.type)) {
        throw new ConfigError('SIS_CFG_KEY_TYPE', `${where}, key 'target.key[${i}]': column '${key}' of type ${column.type} cannot be part of a key`)
      }
      if (column.nullable === true) {
        throw new ConfigError('SIS_CFG_KEY_NULLABLE', `${where}, key 'target.key[${i}]': key column '${key}' cannot be nullable`)
      }
    }
    if (new Set(s.target.key).size !== s.target.key.length) {
      throw new ConfigError('SIS_CFG_KEY_DUPLICATE', `${where}, key 'target.key': a column is listed twice`)
    }
  }
}
