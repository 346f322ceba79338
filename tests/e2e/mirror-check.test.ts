import t, { type Test } from 'tap'
import type { Connection } from 'mysql2/promise'
import type { ColumnMapping, StreamConfig } from '@sisporta/contracts'
import { createDemoErp, demoConfigYaml } from '@sisporta/cli'
import { testPostgresDatabase } from '@sisporta/testkit'
import { startPipeline, type Pipeline } from '../support/pipeline.js'
import { checkMirror, type MirrorReport } from '../support/mirror-check.js'
import { EXTREME_PRODUCT } from '../support/extreme-row.js'
import { createPostgresErp } from '../support/postgres-erp.js'

// The independent mirror check must catch what it claims to: after a real full load of every
// stream (from MariaDB, then from PostgreSQL), one value of every mapped column, one row, one
// extra row are changed in the target behind sisporta's back, one at a time, and the check must
// report exactly that change — its kind, its key and its column — and nothing else.
const SIZE = { products: 120, customers: 60 }

const bq = (name: string): string => `\`${name}\``

/**
 * An UPDATE that changes a value of one column as little as its type allows (a letter's case,
 * the last decimal digit, one microsecond, one bit, a double's last bits), on a row where the
 * column holds a value the change applies to.
 */
function smallestChange (c: ColumnMapping): { set: string, where: string } {
  const x = bq(c.name)
  switch (c.type) {
    case 'string': {
      const last = `RIGHT(${x}, 1)`
      return {
        set: `CONCAT(LEFT(${x}, CHAR_LENGTH(${x}) - 1), CASE WHEN BINARY UPPER(${last}) <> BINARY ${last} THEN UPPER(${last}) WHEN BINARY LOWER(${last}) <> BINARY ${last} THEN LOWER(${last}) WHEN BINARY ${last} = 'x' THEN 'y' ELSE 'x' END)`,
        where: `${x} IS NOT NULL AND ${x} <> ''`
      }
    }
    case 'uuid': return { set: `UPPER(${x})`, where: `${x} REGEXP '[a-f]'` }
    case 'decimal': {
      const unit = c.scale === 0 ? '1' : `0.${'0'.repeat((c.scale ?? 10) - 1)}1`
      return { set: `IF(${x} > 0, ${x} - ${unit}, ${x} + ${unit})`, where: `${x} IS NOT NULL` }
    }
    case 'int': case 'bigint': return { set: `IF(${x} > 0, ${x} - 1, ${x} + 1)`, where: `${x} IS NOT NULL` }
    // two units in the last place: the nearest other double
    case 'float': return { set: `${x} * 1.0000000000000004e0`, where: `${x} IS NOT NULL AND ${x} <> 0 AND ABS(${x}) < 1e300` }
    case 'bool': return { set: `1 - ${x}`, where: `${x} IS NOT NULL` }
    case 'date': return { set: `${x} + INTERVAL 1 DAY`, where: `${x} IS NOT NULL AND ${x} < '9999-12-31'` }
    case 'datetime': return { set: `${x} + INTERVAL 1 MICROSECOND`, where: `${x} IS NOT NULL AND ${x} < '9999-12-31'` }
    case 'binary': return { set: `CONCAT(LEFT(${x}, LENGTH(${x}) - 1), CHAR(ASCII(RIGHT(${x}, 1)) ^ 1))`, where: `LENGTH(${x}) > 0` }
    case 'json': return { set: `JSON_SET(${x}, '$.tampered', 1)`, where: `JSON_TYPE(${x}) = 'OBJECT'` }
  }
}

interface Tamper {
  /** What is changed, for the test's name. */
  readonly what: string
  readonly stream: StreamConfig
  /** Changes the target; returns the key (as the report shows it) of the changed row. */
  apply(sql: Connection): Promise<string>
  /** Puts the target back as it was. */
  restore(sql: Connection): Promise<void>
  readonly expect: 'missing' | 'extra' | 'different'
  /** For `different`: the column named. */
  readonly column?: string
}

const keyWhere = (stream: StreamConfig): string => stream.target.key.map((k) => `t.${bq(k)} = p.${bq(k)}`).join(' AND ')
const pristine = (stream: StreamConfig): string => `mirror_pristine_${stream.target.table}`

/** The first row (by key) matching `where`: its key values and its key as the report writes it. */
async function firstRow (sql: Connection, stream: StreamConfig, where: string): Promise<{ values: unknown[], key: string }> {
  const keys = stream.target.key.map(bq).join(', ')
  const [rows] = await sql.query(`SELECT ${keys} FROM ${bq(stream.target.table)} WHERE ${where} ORDER BY ${keys} LIMIT 1`) as unknown as [Record<string, unknown>[]]
  if (rows.length === 0) throw new Error(`no row of ${stream.target.table} where ${where}: the test data must hold one`)
  const values = stream.target.key.map((k) => rows[0]![k])
  return { values, key: JSON.stringify(values.map(String)) }
}

function tampers (p: Pipeline): Tamper[] {
  const list: Tamper[] = []
  for (const stream of p.config.streams) {
    const table = bq(stream.target.table)
    const byKey = stream.target.key.map((k) => `${bq(k)} = ?`).join(' AND ')
    const restoreColumn = (column: string) => async (sql: Connection): Promise<void> => {
      await sql.query(`UPDATE ${table} AS t JOIN ${bq(pristine(stream))} AS p ON ${keyWhere(stream)} SET t.${bq(column)} = p.${bq(column)}`)
    }
    for (const c of stream.columns.filter((c) => !stream.target.key.includes(c.name))) {
      const change = smallestChange(c)
      list.push({
        what: `${stream.name}.${c.name} (${c.type}): ${change.set}`,
        stream,
        expect: 'different',
        column: c.name,
        apply: async (sql) => {
          const row = await firstRow(sql, stream, change.where)
          const [result] = await sql.query(`UPDATE ${table} SET ${bq(c.name)} = ${change.set} WHERE ${byKey}`, row.values) as unknown as [{ changedRows: number }]
          if (result.changedRows !== 1) throw new Error(`the change of ${stream.name}.${c.name} changed ${result.changedRows} rows`)
          return row.key
        },
        restore: restoreColumn(c.name)
      })
    }
    // NULL is equal to NULL only: a NULL becomes the type's empty value, a value becomes NULL
    // (in the first column that holds both)
    const zero: Record<string, string> = { string: "''", json: "'{}'", binary: "''", date: "'2000-01-01'", datetime: "'2000-01-01 00:00:00'", uuid: "'00000000-0000-4000-8000-000000000000'" }
    for (const [what, where, set] of [['NULL → empty value', 'IS NULL', (c: ColumnMapping) => zero[c.type] ?? '0'], ['a value → NULL', 'IS NOT NULL', () => 'NULL']] as const) {
      let column = ''
      list.push({
        what: `${stream.name}: ${what}`,
        stream,
        expect: 'different',
        get column () { return column },
        apply: async (sql) => {
          const candidates = stream.columns.filter((c) => !stream.target.key.includes(c.name))
          for (const c of candidates) {
            const [rows] = await sql.query(`SELECT SUM(${bq(c.name)} IS NULL) AS nulls, SUM(${bq(c.name)} IS NOT NULL) AS other FROM ${table}`) as unknown as [{ nulls: string | null, other: string | null }[]]
            if (Number(rows[0]!.nulls) > 0 && Number(rows[0]!.other) > 0) {
              column = c.name
              const row = await firstRow(sql, stream, `${bq(c.name)} ${where}`)
              await sql.query(`UPDATE ${table} SET ${bq(c.name)} = ${set(c)} WHERE ${byKey}`, row.values)
              return row.key
            }
          }
          throw new Error(`no column of ${stream.target.table} holds both NULLs and values: the test data must have one`)
        },
        restore: async (sql) => { await restoreColumn(column)(sql) }
      })
    }
    list.push({
      what: `${stream.name}: one row deleted`,
      stream,
      expect: 'missing',
      apply: async (sql) => {
        const row = await firstRow(sql, stream, 'TRUE')
        await sql.query(`DELETE FROM ${table} WHERE ${byKey}`, row.values)
        return row.key
      },
      restore: async (sql) => {
        await sql.query(`INSERT INTO ${table} SELECT p.* FROM ${bq(pristine(stream))} AS p LEFT JOIN ${table} AS t ON ${keyWhere(stream)} WHERE t.${bq(stream.target.key[0]!)} IS NULL`)
      }
    })
    // a copy of a row under another key; for a text key, a key equal to an existing one but for
    // a trailing blank and case (one row to a PAD SPACE or case-insensitive comparison)
    const text = stream.columns.find((c) => c.name === stream.target.key.at(-1))!.type === 'string'
    list.push({
      what: `${stream.name}: one row inserted${text ? ' whose key differs from another only by case and a trailing blank' : ''}`,
      stream,
      expect: 'extra',
      apply: async (sql) => {
        const row = await firstRow(sql, stream, 'TRUE')
        const last = stream.target.key.at(-1)!
        const value = text ? `${String(row.values.at(-1)).toLowerCase()} ` : Number(row.values.at(-1)) + 1_000_000
        await sql.query(`CREATE TEMPORARY TABLE mirror_copy SELECT * FROM ${table} WHERE ${byKey}`, row.values)
        await sql.query(`UPDATE mirror_copy SET ${bq(last)} = ?`, [value])
        await sql.query(`INSERT INTO ${table} SELECT * FROM mirror_copy`)
        await sql.query('DROP TEMPORARY TABLE mirror_copy')
        return JSON.stringify([...row.values.slice(0, -1), value].map(String))
      },
      restore: async (sql) => {
        await sql.query(`DELETE t FROM ${table} AS t LEFT JOIN ${bq(pristine(stream))} AS p ON ${stream.target.key.map((k) => `BINARY t.${bq(k)} = BINARY p.${bq(k)}`).join(' AND ')} WHERE p.${bq(stream.target.key[0]!)} IS NULL`)
      }
    })
  }
  return list
}

const summary = (r: MirrorReport): unknown => ({ missing: r.missing, extra: r.extra, different: r.different, examples: r.examples })

/**
 * The whole check. `vias`: for a MariaDB source, the joining statement and the clients' dumps
 * (the path taken when the target is on another server); a PostgreSQL source has its dumps only.
 */
async function catchesEveryChange (t: Test, p: Pipeline, vias: readonly ('join' | 'dumps')[]): Promise<void> {
  for (const stream of p.config.streams) {
    const result = await p.extract(stream.name)
    t.equal(result.code, 0, `extract ${stream.name} exits 0`, { stderr: result.stderr.slice(-2000) })
  }
  await p.expectMirror(t)
  for (const stream of p.config.streams) {
    await p.target.query(`CREATE TABLE ${bq(pristine(stream))} SELECT * FROM ${bq(stream.target.table)}`)
  }
  const ends = { sourceUrl: p.sourceUrl, targetUrl: p.targetUrl }
  const sourceRows = new Map<string, number>()
  for (const tamper of tampers(p)) {
    const key = await tamper.apply(p.target)
    for (const via of vias) {
      const report = await checkMirror(tamper.stream, { ...ends, via })
      const empty = { missing: [] as string[], extra: [] as string[], different: [] as { key: string, column: string }[] }
      const expected = {
        missing: tamper.expect === 'missing' ? 1 : 0,
        extra: tamper.expect === 'extra' ? 1 : 0,
        different: tamper.expect === 'different' ? 1 : 0,
        examples: { ...empty, [tamper.expect]: tamper.expect === 'different' ? [{ key, column: tamper.column! }] : [key] }
      }
      t.same(summary(report), expected, `${tamper.what}: reported${vias.length > 1 ? ` (${via})` : ''} as exactly one ${tamper.expect} row, ${key}${tamper.column !== undefined ? ` ${tamper.column}` : ''}`)
      const rows = sourceRows.get(tamper.stream.name) ?? report.sourceRows
      sourceRows.set(tamper.stream.name, rows)
      t.equal(report.targetRows, rows + expected.extra - expected.missing, `${tamper.what}: the target's row count`)
    }
    await tamper.restore(p.target)
  }
  // restored: identical again (and the pristine copies are not streams' tables)
  await p.expectMirror(t)
}

t.test('mirror check – MariaDB source (one joining statement, and the dumps): one changed value of every column, one deleted and one inserted row, each reported exactly', async (t) => {
  const p = await startPipeline(t, {
    configYaml: demoConfigYaml(),
    fillSource: async (sql) => {
      await createDemoErp(sql, SIZE)
      await sql.query('INSERT INTO Produtos VALUES ?', [[EXTREME_PRODUCT]])
    },
    env: { SISPORTA_BATCH_SIZE: '50' }
  })
  await catchesEveryChange(t, p, ['join', 'dumps'])
})

t.test('mirror check – PostgreSQL source: one changed value of every column, one deleted and one inserted row, each reported exactly', async (t) => {
  const pg = await testPostgresDatabase(t, 'sisporta_e2e_mirror')
  await createPostgresErp(pg.sql, SIZE, [EXTREME_PRODUCT])
  const p = await startPipeline(t, { configYaml: demoConfigYaml(), sourceUrl: pg.url, env: { SISPORTA_BATCH_SIZE: '50' } })
  await catchesEveryChange(t, p, ['dumps'])
})
