import t from 'tap'
import { parseConfig } from '@sisporta/config'
import { BatchHeaders } from '@sisporta/contracts'
import { createDb, migrate } from '@sisporta/db'
import { eventually, testBus, testDatabase } from '@sisporta/testkit'
import { publishBatch, testPersister } from './helpers.js'

// An application's own tables, as its migration created them: PascalCase, NVARCHAR (utf8mb3),
// DATETIME without fractions, a foreign key.
const SCHEMA = [
  `CREATE TABLE \`Album\` (\`AlbumId\` INT NOT NULL PRIMARY KEY, \`Title\` NVARCHAR(160) NOT NULL, \`Gênero.Principal\` NVARCHAR(40) NULL) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
  `CREATE TABLE \`Track\` (
    \`TrackId\` INT NOT NULL PRIMARY KEY,
    \`AlbumId\` INT NULL,
    \`Track Name\` NVARCHAR(200) NOT NULL,
    \`UpdatedAt\` DATETIME NULL,
    CONSTRAINT \`FK_TrackAlbumId\` FOREIGN KEY (\`AlbumId\`) REFERENCES \`Album\` (\`AlbumId\`)
  ) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`
]

const config = parseConfig(`
streams:
  - name: albums
    source: { table: Album }
    target: { table: Album, key: [AlbumId] }
    columns:
      - { name: AlbumId, from: AlbumId, type: int }
      - { name: Title, from: Title, type: string, length: 160 }
      - { name: Gênero.Principal, from: Genero, type: string, length: 40 }
  - name: tracks
    dependsOn: [albums]
    source: { table: Track }
    target: { table: Track, key: [TrackId] }
    columns:
      - { name: TrackId, from: TrackId, type: int }
      - { name: AlbumId, from: AlbumId, type: int }
      - { name: Track Name, from: Name, type: string, length: 200 }
      - { name: UpdatedAt, from: UpdatedAt, type: datetime, precision: 0 }
`, 'app.yaml', {})

t.test('persister – an application schema: PascalCase names, NVARCHAR, DATETIME(0) and a foreign key, each refusal a dead letter naming row or constraint', async (t) => {
  const bus = await testBus(t, { maxDeliver: 5 })
  const { url, sql } = await testDatabase(t)
  for (const statement of SCHEMA) await sql.query(statement)
  const db = createDb(url, { poolSize: 2 })
  t.teardown(() => db.destroy())
  await migrate(db, config)
  const { worker, loads } = await testPersister(t, bus, url, config, { applyLimits: { maxRows: 2 } })
  const albumLoad = (await loads.openLoad({ stream: 'albums', mode: 'full', openedBy: 'test' })).id
  const trackLoad = (await loads.openLoad({ stream: 'tracks', mode: 'full', openedBy: 'test' })).id
  const trackColumns = ['TrackId', 'AlbumId', 'Track Name', 'UpdatedAt']
  await publishBatch(bus.nc, bus.names, { stream: 'albums', loadId: albumLoad, batch: 0, body: { columns: ['AlbumId', 'Title', 'Gênero.Principal'], rows: [[1, 'Ação 日本 ☕', 'MPB'], [2, 'Plain', null]] } })
  // the parent exists: applied, BMP text and whole seconds exactly
  await publishBatch(bus.nc, bus.names, { stream: 'tracks', loadId: trackLoad, batch: 0, body: { columns: trackColumns, rows: [[10, 1, 'Ação ☕', '2024-02-29T23:59:59'], [11, 2, 'x', '2024-02-29T23:59:58.000000']] } })
  // album 3 is not in the target: the foreign key refuses the second statement (rows 2–3)
  await publishBatch(bus.nc, bus.names, { stream: 'tracks', loadId: trackLoad, batch: 1, body: { columns: trackColumns, rows: [[12, 1, 'a', null], [13, 1, 'b', null], [14, 2, 'c', null], [15, 3, 'd', null]] } })
  // a 4-byte character an NVARCHAR (utf8mb3) column cannot hold: row 1, column 'Track Name'
  await publishBatch(bus.nc, bus.names, { stream: 'tracks', loadId: trackLoad, batch: 2, body: { columns: trackColumns, rows: [[16, 1, 'ok', null], [17, 1, 'emoji 😀', null]] } })
  // half a second in a DATETIME (precision 0) column: refused before MySQL would cut it
  await publishBatch(bus.nc, bus.names, { stream: 'tracks', loadId: trackLoad, batch: 3, body: { columns: trackColumns, rows: [[18, 1, 'ok', '2024-01-01T00:00:00'], [19, 1, 'late', '2024-01-01T00:00:00.5']] } })
  await worker.start()

  const jsm = await bus.nc.jetstreamManager()
  await eventually(async () => (await jsm.streams.info(bus.names.dlqStream)).state.messages === 3 && (await jsm.streams.info(bus.names.batchStream)).state.messages === 0 ? true : undefined, { what: 'three dead letters, the rest applied', timeoutMs: 120_000 })
  const letters = await Promise.all([1, 2, 3].map(async (seq) => await jsm.streams.getMessage(bus.names.dlqStream, { seq })))
  const reasons = new Map(letters.map((m) => [m.header.get(BatchHeaders.Batch), m.header.get(BatchHeaders.Reason)]))
  // batches 1 and 2 are bisected (bisect-batch.test.ts): their good rows applied, the refused row alone dead-lettered
  t.equal(reasons.get('1'), `SIS_PERSIST_ROWS_REFUSED: batch 1 of load ${trackLoad} (stream 'tracks'): 1 of 4 rows refused, 3 applied (the letter holds the 1 rows not applied); ` +
    "row 3 (TrackId=15): refers to a row missing from table 'Album' " +
    "(constraint 'FK_TrackAlbumId': CONSTRAINT `FK_TrackAlbumId` FOREIGN KEY (`AlbumId`) REFERENCES `Album` (`AlbumId`)); the parent rows must be applied first: " +
    "declare the parent stream in this stream's dependsOn (MySQL error 1452)", 'the foreign key is named, with the row and its key')
  t.match(reasons.get('2'), /^SIS_PERSIST_ROWS_REFUSED: batch 2 of load \d+ \(stream 'tracks'\): 1 of 2 rows refused, 1 applied .*; row 1 \(TrackId=17\), column 'Track Name': Incorrect string value: '\\xF0\\x9F\\x98\\x80' for column .*Track Name.* \(MySQL error 1366\)$/,
    'a 4-byte character into utf8mb3 names row, key and column')
  t.match(reasons.get('3'), /^SIS_PERSIST_BAD_BODY: .*row 1, column 'UpdatedAt' \(datetime\): '2024-01-01T00:00:00\.5' has fractional seconds beyond the column's 0 digits/,
    'a fraction the DATETIME column would lose names row and column')
  t.ok(letters.every((m) => m.header.get(BatchHeaders.Deliveries) === '1'), 'each refused at once, not retried')

  const [tracks] = await sql.query('SELECT `TrackId`, `AlbumId`, `Track Name` AS name, HEX(`Track Name`) AS bytes, CAST(`UpdatedAt` AS CHAR) AS updated FROM `Track` ORDER BY `TrackId`') as unknown as [{ TrackId: number, AlbumId: number, name: string, bytes: string, updated: string }[]]
  t.same(tracks, [
    { TrackId: 10, AlbumId: 1, name: 'Ação ☕', bytes: Buffer.from('Ação ☕').toString('hex').toUpperCase(), updated: '2024-02-29 23:59:59' },
    { TrackId: 11, AlbumId: 2, name: 'x', bytes: '78', updated: '2024-02-29 23:59:58' },
    { TrackId: 12, AlbumId: 1, name: 'a', bytes: '61', updated: null },
    { TrackId: 13, AlbumId: 1, name: 'b', bytes: '62', updated: null },
    { TrackId: 14, AlbumId: 2, name: 'c', bytes: '63', updated: null },
    { TrackId: 16, AlbumId: 1, name: 'ok', bytes: '6F6B', updated: null }
  ], 'only the accepted rows are stored, exactly (utf8mb3 holds the BMP byte for byte); the body the decoder refused (batch 3) writes nothing')
  const [albums] = await sql.query('SELECT `AlbumId`, `Title`, `Gênero.Principal` AS genre FROM `Album` ORDER BY `AlbumId`') as unknown as [{ AlbumId: number, Title: string, genre: string | null }[]]
  t.same(albums, [{ AlbumId: 1, Title: 'Ação 日本 ☕', genre: 'MPB' }, { AlbumId: 2, Title: 'Plain', genre: null }], 'a column named with an accent, written through the quoted name')
})
