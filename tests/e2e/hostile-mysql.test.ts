import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import type { Connection } from 'mysql2/promise'
import { connect } from 'nats'
import { busNames } from '@sisporta/contracts'
import { deprovisionBus } from '@sisporta/nats'
import { issueToken, launchService, runSisporta, type RunningService } from '@sisporta/cli'
import { TEST_NATS_URL, eventually, privateMariadb, randomId, type PrivateMariadb } from '@sisporta/testkit'

// Item 1 of issue 8: the persister's SQL must mean the same whatever the target server does to
// a connection's character set. Each test starts its own MariaDB with a hostile configuration,
// sends attack strings and multi-byte text through the real gateway and persister (separate
// processes, real NATS), and checks with the server's own HEX() over an explicit utf8mb4
// session that every value is stored byte for byte, no row was added, and nothing else changed.
// The servers come from testkit's privateMariadb; its `root` connection is the oracle.

const CONFIG_YAML = `
streams:
  - name: notes
    source: { table: erp.notes }
    target: { table: notes, key: [id] }
    deletes: none
    columns:
      - { name: id, from: id, type: int }
      - { name: label, from: label, type: string }
      - { name: doc, from: doc, type: json }
`

// Values that broke, or could break, backslash-escaped literals read in another character set.
const ATTACKS = [
  // gbk: 丁 is E4 B8 81 and ¿ is C2 BF; read as gbk the escaping backslash (5C) becomes the
  // second byte of the character BF 5C and the quote after it ends the string
  "丁¿',1),(666,USER(),1)-- ",
  "丁¿',1),(667,@@version,1)#",
  '丁¿\\',
  "'); DROP TABLE canary; --",
  "\\' OR 1=1 --",
  "' OR '1'='1",
  'back\\slash \\\\ two \\n not a newline \\',
  'NUL \u0000 inside',
  'Ctrl-Z \u001a inside',
  'quotes \' " ` and \\" and \'\'',
  'CR\r LF\n TAB\t BS\b'
]

// Ordinary text the wrong character set mangles.
const TEXT = [
  'Açúcar', 'São João, coração, ônibus', 'ÿ þ ß Æ', '😀 emoji', '日本語のテキスト', '中文 繁體 한국어', '𝄞 𠜎 𩸽 (four bytes)',
  'e\u0301 combining', '\u2028\u2029\ufeff', '?', ''
]

// json values stored as the text they were sent as
const JSON_TEXTS = ['{"q":"\'); DROP TABLE canary; --","n":1e400}', '12345678901234567890123', '0.1000000000000000000001', '{ "b" : 1 , "a" : 2 , "a" : "丁¿\'" }', '["😀", "\\u00e9\\\\\'"]']

/**
 * The whole attack against one hostile server: a non-SUPER login with only the privileges
 * sisporta needs on its target database, `sisporta migrate`, gateway and persister as separate
 * processes, then the batches.
 */
async function attack (t: Test, server: PrivateMariadb): Promise<void> {
  const { root } = server
  const password = randomBytes(12).toString('hex')
  await root.query(`CREATE DATABASE sisporta CHARACTER SET utf8mb4;
    CREATE USER 'sisporta'@'127.0.0.1' IDENTIFIED BY '${password}';
    GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX ON sisporta.* TO 'sisporta'@'127.0.0.1';
    CREATE TABLE sisporta.canary (id INT PRIMARY KEY, label VARCHAR(20)) CHARACTER SET utf8mb4;
    INSERT INTO sisporta.canary VALUES (1, 'untouched')`)
  const [grants] = await root.query("SHOW GRANTS FOR 'sisporta'@'127.0.0.1'") as unknown as [Record<string, string>[]]
  t.notMatch(JSON.stringify(grants), /SUPER|ALL PRIVILEGES|CONNECTION ADMIN/, 'the login has no SUPER: init_connect applies to it')
  const usersBefore = await rows(root, 'SELECT COUNT(*) AS n FROM mysql.user')

  const id = randomId()
  const namespace = `e2e_${id}`
  const dir = mkdtempSync(join(tmpdir(), `sisporta-hostile-${id}-`))
  const configFile = join(dir, 'sisporta.yaml')
  writeFileSync(configFile, CONFIG_YAML)
  const secret = randomBytes(32).toString('hex')
  const env: Record<string, string> = {
    SISPORTA_CONFIG: configFile,
    SISPORTA_NAMESPACE: namespace,
    SISPORTA_NATS_URL: TEST_NATS_URL,
    SISPORTA_MYSQL_URL: `mysql://sisporta:${password}@127.0.0.1:${server.port}/sisporta`,
    SISPORTA_JWT_SECRET: secret,
    SISPORTA_LOG_LEVEL: 'info'
  }
  const nc = await connect({ servers: TEST_NATS_URL })
  const services: RunningService[] = []
  t.teardown(async () => {
    await Promise.all(services.map(async (s) => await s.stop(5_000)))
    await deprovisionBus(nc, busNames(namespace)).catch(() => {})
    await nc.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const migrated = await runSisporta(['migrate'], env)
  t.equal(migrated.code, 0, `sisporta migrate through the hostile session (${migrated.stderr.trim()})`)
  for (const name of ['gateway', 'persister']) services.push(await launchService(name, env, join(dir, `${name}.log`)))
  const gateway = services[0]!.url
  const token = issueToken({ jwtSecret: secret }, { streams: ['notes'], subject: 'e2e', ttl: '1h' })
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const opened = await fetch(`${gateway}/v1/streams/notes/loads`, { method: 'POST', headers, body: JSON.stringify({ mode: 'full' }) })
  t.equal(opened.status, 201)
  const { load } = await opened.json() as { load: { id: number } }

  // batch 0: the attacks alone, as the tuple (id, label, load) they are shaped for; batch 1:
  // ordinary text and json values; batch 2: the same text written with \u escapes
  const expected = new Map<number, { label: string, doc: string | null }>()
  const batches: string[] = []
  batches.push(JSON.stringify({ columns: ['id', 'label'], rows: ATTACKS.map((label, i) => { expected.set(i + 1, { label, doc: null }); return [i + 1, label] }) }))
  const textRows = TEXT.map((label, i) => {
    const doc = JSON_TEXTS[i % JSON_TEXTS.length]!
    expected.set(100 + i, { label, doc })
    return `[${100 + i},${JSON.stringify(label)},${doc}]`
  })
  batches.push(`{"columns":["id","label","doc"],"rows":[${textRows.join(',')}]}`)
  batches.push(JSON.stringify({ columns: ['id', 'label'], rows: [...ATTACKS, ...TEXT].map((label, i) => { expected.set(200 + i, { label, doc: null }); return [200 + i, label] }) })
    .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))
  for (const [n, body] of batches.entries()) {
    const res = await fetch(`${gateway}/v1/streams/notes/loads/${load.id}/batches/${n}`, { method: 'POST', headers, body: Buffer.from(body, 'utf8') })
    t.equal(res.status, 202, `batch ${n} accepted (${res.status === 202 ? '' : await res.text()})`)
  }

  // every batch settled: applied (booked in the target) or dead-lettered
  const jsm = await nc.jetstreamManager()
  const names = busNames(namespace)
  const settled = async (): Promise<{ applied: number, deadLettered: number }> => ({
    applied: Number((await rows(root, 'SELECT COUNT(*) AS n FROM sisporta.sisporta_batches'))[0]!.n),
    deadLettered: (await jsm.streams.info(names.dlqStream)).state.messages
  })
  const outcome = await eventually(async () => {
    const now = await settled()
    return now.applied + now.deadLettered === batches.length ? now : undefined
  }, { what: `the persister to settle ${batches.length} batches (see ${dir}/persister.log)`, timeoutMs: 60_000 })
  t.same(outcome, { applied: batches.length, deadLettered: 0 }, 'every batch applied, none dead-lettered')

  const stored = await rows(root, 'SELECT id, HEX(label) AS label, HEX(doc) AS doc FROM sisporta.notes ORDER BY id')
  t.same(stored.map((r) => Number(r.id)), [...expected.keys()].sort((a, b) => a - b), 'exactly the rows sent: no injected row')
  const differences = stored.filter((r) => {
    const want = expected.get(Number(r.id))
    return want !== undefined && (r.label !== hex(want.label) || r.doc !== (want.doc === null ? null : hex(want.doc)))
  }).map((r) => `${String(r.id)}: ${Buffer.from(String(r.label), 'hex').toString('utf8')} ≠ ${expected.get(Number(r.id))!.label}`)
  t.same(differences, [], 'every value stored byte for byte (HEX on the server)')
  t.same(await rows(root, 'SELECT * FROM sisporta.canary'), [{ id: 1, label: 'untouched' }], 'the other table is untouched')
  t.same((await rows(root, "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sisporta' ORDER BY TABLE_NAME")).map((r) => String(r.t)).sort(), ['canary', 'notes', 'sisporta_batch_parts', 'sisporta_batches'], 'no table added or dropped')
  t.same(await rows(root, 'SELECT COUNT(*) AS n FROM mysql.user'), usersBefore, 'no login added')
  const log = readFileSync(join(dir, 'persister.log'), 'utf8')
  t.notMatch(log, /dead-lettered|SIS_DB_SESSION/, 'no batch refused, no session refused')
}

function hex (text: string): string {
  return Buffer.from(text, 'utf8').toString('hex').toUpperCase()
}

async function rows (sql: Connection, query: string): Promise<Record<string, unknown>[]> {
  return (await sql.query(query))[0] as Record<string, unknown>[]
}

t.test('hostile MySQL – a server that imposes gbk (no client handshake) stores every value byte for byte, and no injection adds a row', async (t) => {
  const server = await privateMariadb(t, ['--skip-character-set-client-handshake', '--character-set-server=gbk', '--collation-server=gbk_chinese_ci'])
  const [vars] = await server.root.query("SHOW VARIABLES LIKE 'character_set_server'") as unknown as [{ Value: string }[]]
  t.equal(vars[0]!.Value, 'gbk', 'the server is hostile as intended')
  await attack(t, server)
})

t.test('hostile MySQL – init_connect switching a non-SUPER login to latin1 changes nothing that is stored', async (t) => {
  const server = await privateMariadb(t, ['--init-connect=SET NAMES latin1'])
  const [vars] = await server.root.query('SELECT @@init_connect AS v') as unknown as [{ v: string }[]]
  t.equal(vars[0]!.v, 'SET NAMES latin1', 'the server is hostile as intended')
  await attack(t, server)
})
