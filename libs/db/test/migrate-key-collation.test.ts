import t from 'tap'
import { parseConfig } from '@sisporta/config'
import { createDb, findLooseKeyColumns, migrate } from '@sisporta/db'
import { testDatabase } from '@sisporta/testkit'

/** One stream per target table, keyed on `sku` (a string), with a text column beside it. */
function streamsYaml (tables: readonly string[], keyType = 'string'): string {
  return `streams:\n${tables.map((table) => `
  - name: ${table}
    source: { table: erp.${table} }
    target: { table: ${table}, key: [sku] }
    columns:
      - { name: sku, from: code, type: ${keyType}${keyType === 'string' ? ', length: 40' : ''} }
      - { name: note, from: note, type: string, length: 40 }`).join('')}\n`
}

t.test('migrate – warns about key columns whose collation merges distinct keys, with the ALTER to run; not about binary NO PAD ones', async (t) => {
  const { url, sql } = await testDatabase(t)
  const table = (name: string, collation: string): string =>
    `CREATE TABLE ${name} (sku VARCHAR(40) CHARACTER SET utf8mb4 COLLATE ${collation} NOT NULL PRIMARY KEY, note VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL)`
  await sql.query([
    table('t_unicode_ci', 'utf8mb4_unicode_ci'),
    table('t_pad_bin', 'utf8mb4_bin'),
    table('t_nopad_bin', 'utf8mb4_nopad_bin'),
    table('t_general_nopad_ci', 'utf8mb4_general_nopad_ci')
  ].join('; '))
  const db = createDb(url)
  t.teardown(() => db.destroy())
  const config = parseConfig(streamsYaml(['t_unicode_ci', 't_pad_bin', 't_nopad_bin', 't_general_nopad_ci']), 'test.yaml', {})
  const { warnings } = await migrate(db, config)
  const about = (name: string): string[] => warnings.filter((w) => w.startsWith(`table '${name}',`))
  t.equal(about('t_unicode_ci').length, 1)
  t.match(about('t_unicode_ci')[0], /^table 't_unicode_ci', key column 'sku' \(stream t_unicode_ci\) has collation utf8mb4_unicode_ci, which ignores case, accents, trailing blanks and language rules: source keys that differ only so \('a' and 'A'\) become one target row, and a full load that sends both fails before deleting anything\. .*binary NO PAD collation: ALTER TABLE `t_unicode_ci` MODIFY `sku` varchar\(40\) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;$/)
  t.equal(about('t_pad_bin').length, 1)
  t.match(about('t_pad_bin')[0], /key column 'sku' \(stream t_pad_bin\) has collation utf8mb4_bin, which ignores trailing blanks: source keys that differ only so \('a' and 'a '\)/, 'PAD SPACE, even binary')
  t.equal(about('t_general_nopad_ci').length, 1)
  t.match(about('t_general_nopad_ci')[0], /has collation utf8mb4_general_nopad_ci, which ignores case, accents and language rules:/, 'NO PAD but case-insensitive')
  t.same(about('t_nopad_bin'), [], 'a binary NO PAD key compares exactly: no warning')
  t.notOk(warnings.some((w) => /column 'note'/.test(w)), 'a column outside the key may compare as it likes')

  // the ALTERs as printed make the keys exact: 'a', 'A' and 'a ' are then three rows, and migrate says nothing more
  for (const warning of warnings) await sql.query(warning.slice(warning.indexOf('ALTER TABLE')))
  for (const name of ['t_unicode_ci', 't_pad_bin', 't_general_nopad_ci']) {
    await sql.query(`INSERT INTO ${name} (sku) VALUES ('a'), ('A'), ('a ')`)
    const [rows] = await sql.query(`SELECT HEX(sku) AS k FROM ${name} ORDER BY sku`) as unknown as [Array<{ k: string }>]
    t.same(rows.map((r) => r.k), ['41', '61', '6120'], `${name}: three distinct keys after the ALTER`)
  }
  t.same((await migrate(db, config)).warnings, [], 'then nothing more to report')
})

t.test('migrate – a uuid key under a case-insensitive collation is no risk: uuids are canonical lower-case text', async (t) => {
  const { url, sql } = await testDatabase(t)
  await sql.query('CREATE TABLE t_uuid (sku CHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL PRIMARY KEY, note VARCHAR(40) NULL)')
  const db = createDb(url)
  t.teardown(() => db.destroy())
  t.same((await migrate(db, parseConfig(streamsYaml(['t_uuid'], 'uuid'), 'test.yaml', {}))).warnings, [])
  t.match(await findLooseKeyColumns(db, 't_uuid', ['sku']), [{ column: 'sku', collation: 'utf8mb4_unicode_ci' }], 'though the column itself is loose')
})

t.test('migrate – tables sisporta creates get keys that compare exactly', async (t) => {
  const { url } = await testDatabase(t)
  const db = createDb(url)
  t.teardown(() => db.destroy())
  const config = parseConfig(streamsYaml(['created']), 'test.yaml', {})
  await migrate(db, config)
  t.same(await findLooseKeyColumns(db, 'created', ['sku']), [])
  t.same((await migrate(db, config)).warnings, [], 'and a second run finds nothing to warn about')
})
