import type { ConfigFileInput } from '@sisporta/contracts'
import { ConfigError } from './errors.js'
import { checkSchedule } from './check-schedule.js'
import { dependencyOrder } from './stream-order.js'

const NON_KEY_TYPES = new Set(['float', 'json', 'binary'])
/** `precision` of each type that has one: decimal total digits, datetime fractional digits. */
const PRECISION_RANGE: Readonly<Record<string, readonly [number, number]>> = { decimal: [1, 65], datetime: [0, 6] }

/**
 * Checks what a schema cannot: cross-references inside and between streams.
 *
 * Target names are compared without case where MySQL may: two columns `Name` and `name` are one
 * column to MySQL, and two tables `Album` and `album` are one table on a server with
 * `lower_case_table_names` set; either is refused rather than written twice.
 */
export function checkStreams (input: ConfigFileInput, file: string): void {
  const names = new Set<string>()
  const targets = new Map<string, { stream: string, table: string }>()
  for (const s of input.streams) {
    const where = `${file}: stream '${s.name}'`
    if (names.has(s.name)) throw new ConfigError('SIS_CFG_DUPLICATE_STREAM', `${where}, key 'name': stream name used twice`)
    names.add(s.name)
    const other = targets.get(s.target.table.toLowerCase())
    if (other !== undefined) {
      const spelled = other.table === s.target.table ? '' : ` (as '${other.table}': MySQL may not tell table names apart by case)`
      throw new ConfigError('SIS_CFG_DUPLICATE_TARGET', `${where}, key 'target.table': table '${s.target.table}' is already the target of stream '${other.stream}'${spelled}`)
    }
    targets.set(s.target.table.toLowerCase(), { stream: s.name, table: s.target.table })
    if ((s.source.table === undefined) === (s.source.query === undefined)) {
      throw new ConfigError('SIS_CFG_SOURCE', `${where}, key 'source': give exactly one of 'table' or 'query'`)
    }
    const columns = new Map<string, typeof s.columns[number]>()
    const folded = new Map<string, string>()
    const froms = new Set<string>()
    for (const [i, c] of s.columns.entries()) {
      const at = `${where}, columns[${i}] (${c.name})`
      const same = folded.get(c.name.toLowerCase())
      if (same !== undefined) {
        throw new ConfigError('SIS_CFG_DUPLICATE_COLUMN', `${at}, key 'name': target column declared twice${same === c.name ? '' : ` (as '${same}': MySQL column names ignore case)`}`)
      }
      if (froms.has(c.from.toLowerCase())) throw new ConfigError('SIS_CFG_DUPLICATE_COLUMN', `${at}, key 'from': source column '${c.from}' is mapped twice`)
      if (c.name.toLowerCase().startsWith('_sisporta')) throw new ConfigError('SIS_CFG_RESERVED', `${at}, key 'name': names starting with _sisporta are reserved`)
      if (c.scale !== undefined && c.type !== 'decimal') {
        throw new ConfigError('SIS_CFG_COLUMN', `${at}, key 'scale': only decimal columns have a scale`)
      }
      const range = PRECISION_RANGE[c.type]
      if (c.precision !== undefined && range === undefined) {
        throw new ConfigError('SIS_CFG_COLUMN', `${at}, key 'precision': only decimal (total digits) and datetime (fractional-second digits) columns have a precision`)
      }
      if (c.precision !== undefined && range !== undefined && (c.precision < range[0] || c.precision > range[1])) {
        throw new ConfigError('SIS_CFG_COLUMN', `${at}, key 'precision': a ${c.type} precision is ${range[0]} to ${range[1]}, got ${c.precision}`)
      }
      if (c.precision !== undefined && c.scale !== undefined && c.scale > c.precision) {
        throw new ConfigError('SIS_CFG_COLUMN', `${at}, key 'scale': scale ${c.scale} is larger than precision ${c.precision}`)
      }
      if (c.fraction !== undefined && c.type !== 'datetime') {
        throw new ConfigError('SIS_CFG_COLUMN', `${at}, key 'fraction': only datetime columns have a fraction (truncate cuts a SQL Server datetime2(7) value to the microsecond); remove it or declare the column as datetime`)
      }
      if (c.length !== undefined && c.type !== 'string' && c.type !== 'binary') {
        throw new ConfigError('SIS_CFG_COLUMN', `${at}, key 'length': only string and binary columns have a length`)
      }
      columns.set(c.name, c)
      folded.set(c.name.toLowerCase(), c.name)
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
      if (column.fraction !== undefined) {
        throw new ConfigError('SIS_CFG_KEY_TYPE', `${where}, key 'target.key[${i}]': key column '${key}' cannot declare fraction: truncate (two source keys differing only in the 7th fractional digit would become one, and pages would skip or repeat rows); remove it, or declare the key as string`)
      }
      if (column.nullable === true) {
        throw new ConfigError('SIS_CFG_KEY_NULLABLE', `${where}, key 'target.key[${i}]': key column '${key}' cannot be nullable`)
      }
    }
    if (new Set(s.target.key).size !== s.target.key.length) {
      throw new ConfigError('SIS_CFG_KEY_DUPLICATE', `${where}, key 'target.key': a column is listed twice`)
    }
    checkSchedule(s, file)
  }
  checkDependencies(input, file, names)
}

/** `dependsOn`: names of other streams of the file, and no cycle (a stream cannot come before itself). */
function checkDependencies (input: ConfigFileInput, file: string, names: ReadonlySet<string>): void {
  for (const s of input.streams) {
    for (const [i, parent] of (s.dependsOn ?? []).entries()) {
      const at = `${file}: stream '${s.name}', key 'dependsOn[${i}]'`
      if (parent === s.name) throw new ConfigError('SIS_CFG_DEPENDS_ON', `${at}: a stream cannot depend on itself`)
      if (!names.has(parent)) throw new ConfigError('SIS_CFG_DEPENDS_ON', `${at}: there is no stream '${parent}' in this file`)
    }
  }
  try {
    dependencyOrder(input.streams)
  } catch (err) {
    throw new ConfigError('SIS_CFG_DEPENDS_ON', `${file}: key 'dependsOn': ${(err as Error).message}; one of them must be loaded first`)
  }
}
