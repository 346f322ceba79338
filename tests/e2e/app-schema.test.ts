import t from 'tap'
import type { Connection } from 'mysql2/promise'
import type { LoadRecord } from '@sisporta/contracts'
import { eventually } from '@sisporta/testkit'
import { startPipeline } from '../support/pipeline.js'

// A target written the way real applications write their schema (Chinook-like, through a
// framework's migration): PascalCase tables and columns, a column name with a space and one with
// a `$`, DATETIME without fractions, NVARCHAR (utf8mb3) columns, a case-insensitive collation on a
// string key, and foreign keys Track → Album → Artist. The TEST creates it, as the application's
// migration would; `sisporta migrate` only adds its stamp column. The ERP (source) has its own
// names. Keys never collide case-insensitively here (that is another test's subject).

const APP_SCHEMA = [
  `CREATE TABLE \`Artist\` (
    \`ArtistId\` INT NOT NULL,
    \`Name\` NVARCHAR(120) NOT NULL,
    PRIMARY KEY (\`ArtistId\`)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
  `CREATE TABLE \`Album\` (
    \`AlbumId\` INT NOT NULL,
    \`Title\` NVARCHAR(160) NOT NULL,
    \`ArtistId\` INT NOT NULL,
    \`Released At\` DATETIME NULL,
    PRIMARY KEY (\`AlbumId\`),
    KEY \`IFK_AlbumArtistId\` (\`ArtistId\`),
    CONSTRAINT \`FK_AlbumArtistId\` FOREIGN KEY (\`ArtistId\`) REFERENCES \`Artist\` (\`ArtistId\`)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
  `CREATE TABLE \`Track\` (
    \`TrackCode\` VARCHAR(20) NOT NULL,
    \`AlbumId\` INT NOT NULL,
    \`Name\` VARCHAR(200) NOT NULL,
    \`Unit$Price\` DECIMAL(10,2) NOT NULL,
    \`UpdatedAt\` DATETIME NOT NULL,
    PRIMARY KEY (\`TrackCode\`),
    KEY \`IFK_TrackAlbumId\` (\`AlbumId\`),
    CONSTRAINT \`FK_TrackAlbumId\` FOREIGN KEY (\`AlbumId\`) REFERENCES \`Album\` (\`AlbumId\`)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`
]

const ERP_SCHEMA = [
  'CREATE TABLE Artista (Cod INT PRIMARY KEY, Nome VARCHAR(120) NOT NULL) DEFAULT CHARSET=utf8mb4',
  'CREATE TABLE Disco (Cod INT PRIMARY KEY, Titulo VARCHAR(160) NOT NULL, Artista INT NOT NULL, Lancado DATETIME NULL) DEFAULT CHARSET=utf8mb4',
  'CREATE TABLE Faixa (Codigo VARCHAR(20) COLLATE utf8mb4_bin PRIMARY KEY, Disco INT NOT NULL, Nome VARCHAR(200) NOT NULL, Preco DECIMAL(10,2) NOT NULL, Alterado DATETIME NOT NULL) DEFAULT CHARSET=utf8mb4'
]

// tracks listed before albums: the order comes from dependsOn, not from the file
const CONFIG = `
streams:
  - name: artists
    schedule: { full: 30s }
    maxDeleteRatio: 0.5
    source: { table: Artista }
    target: { table: Artist, key: [ArtistId] }
    columns:
      - { name: ArtistId, from: Cod, type: int }
      - { name: Name, from: Nome, type: string, length: 120 }
  - name: tracks
    dependsOn: [albums]
    schedule: { full: 30s }
    maxDeleteRatio: 0.5
    source: { table: Faixa }
    target: { table: Track, key: [TrackCode] }
    columns:
      - { name: TrackCode, from: Codigo, type: string, length: 20 }
      - { name: AlbumId, from: Disco, type: int }
      - { name: Name, from: Nome, type: string, length: 200 }
      - { name: Unit$Price, from: Preco, type: decimal, precision: 10, scale: 2 }
      - { name: UpdatedAt, from: Alterado, type: datetime, precision: 0 }
  - name: albums
    dependsOn: [artists]
    schedule: { full: 30s }
    maxDeleteRatio: 0.5
    source: { table: Disco }
    target: { table: Album, key: [AlbumId] }
    columns:
      - { name: AlbumId, from: Cod, type: int }
      - { name: Title, from: Titulo, type: string, length: 160 }
      - { name: ArtistId, from: Artista, type: int }
      - { name: Released At, from: Lancado, type: datetime, precision: 0 }
`

const ARTISTS = 5
const ALBUMS = 12
/** Track codes in mixed case, distinct even without case: `Ab-001-x`, `cD-002-Y`, … */
const trackCode = (n: number): string => `${n % 2 === 0 ? 'Ab' : 'cD'}-${String(n).padStart(3, '0')}-${n % 3 === 0 ? 'x' : 'Y'}`

async function fillErp (sql: Connection): Promise<void> {
  for (const statement of ERP_SCHEMA) await sql.query(statement)
  await sql.query('INSERT INTO Artista VALUES ?', [Array.from({ length: ARTISTS }, (_, i) => [i + 1, ['Antônio Carlos Jobim', 'Björk', '坂本龍一', "Sinéad O'Connor", 'Ђорђе Балашевић'][i]!])])
  // album a belongs to artist ((a - 1) % 5) + 1; some without a release date
  await sql.query('INSERT INTO Disco VALUES ?', [Array.from({ length: ALBUMS }, (_, i) => [i + 1, `Álbum nº ${i + 1} — “${'ação'.repeat(1 + (i % 3))}”`, (i % ARTISTS) + 1, i % 4 === 0 ? null : `19${70 + i}-0${1 + (i % 9)}-1${i % 10} 2${i % 4}:3${i % 6}:5${i % 10}`])])
  // five tracks per album
  await sql.query('INSERT INTO Faixa VALUES ?', [Array.from({ length: ALBUMS * 5 }, (_, i) => [trackCode(i + 1), Math.floor(i / 5) + 1, `Faixa ${i + 1}: Garota de Ipanema ${'☕'.repeat(i % 3)}`, `${i % 7}.${String(i % 100).padStart(2, '0')}`, `2024-0${1 + (i % 9)}-2${i % 8} 0${i % 10}:1${i % 6}:4${i % 10}`])])
}

interface Ids { [stream: string]: number }

/** The newest load id of each stream. */
async function newestIds (loads: (stream: string) => Promise<LoadRecord[]>): Promise<Ids> {
  const ids: Ids = {}
  for (const stream of ['artists', 'albums', 'tracks']) ids[stream] = Math.max(0, ...(await loads(stream)).map((l) => l.id))
  return ids
}

t.test('application schema', async (t) => {
  const p = await startPipeline(t, {
    configYaml: CONFIG,
    fillSource: fillErp,
    prepareTarget: async (sql) => { for (const statement of APP_SCHEMA) await sql.query(statement) },
    env: { SISPORTA_BATCH_SIZE: '7' }
  })

  await t.test('app schema – migrate adds only its stamp column, and warns about the NVARCHAR columns', async (t) => {
    const again = await p.cli(['migrate'])
    t.equal(again.code, 0, 'migrate accepts the application\'s tables (DATETIME without fractions declared precision: 0)', { stderr: again.stderr })
    t.match(again.stdout, /migrate: everything already in place/)
    t.match(again.stderr, /warning: table 'Artist', column 'Name' \(stream artists\) is utf8mb3 .*a character above U\+FFFF .* is refused and its batch dead-lettered/)
    t.match(again.stderr, /warning: table 'Album', column 'Title' \(stream albums\) is utf8mb3 /)
    const [columns] = await p.target.query("SELECT TABLE_NAME AS t, COLUMN_NAME AS c, COLUMN_TYPE AS ty, CHARACTER_SET_NAME AS cs FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'Track' ORDER BY ORDINAL_POSITION") as unknown as [{ c: string, ty: string }[]]
    t.same(columns.map((c) => `${c.c} ${c.ty}`), ['TrackCode varchar(20)', 'AlbumId int(11)', 'Name varchar(200)', 'Unit$Price decimal(10,2)', 'UpdatedAt datetime', '_sisporta_load bigint(20)'],
      'the application\'s columns as it made them, plus _sisporta_load')
    const [fks] = await p.target.query('SELECT CONSTRAINT_NAME AS n FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() ORDER BY 1') as unknown as [{ n: string }[]]
    t.same(fks.map((f) => f.n), ['FK_AlbumArtistId', 'FK_TrackAlbumId'], 'its foreign keys in place')
  })

  await t.test('app schema – a full load in dependency order mirrors the ERP exactly', async (t) => {
    for (const stream of ['artists', 'albums', 'tracks']) {
      const result = await p.extract(stream)
      t.equal(result.code, 0, `extract ${stream} exits 0`, { stderr: result.stderr.slice(-2000) })
    }
    await p.expectMirror(t)
  })

  await t.test('app schema – the ERP changes parents and children; the extractor daemon\'s next full loads mirror it, children\'s deletes first', async (t) => {
    const before = await newestIds(p.loads)
    const erp = p.source
    // updates
    await erp.query("UPDATE Artista SET Nome = 'Tom Jobim (Antônio Carlos)' WHERE Cod = 1")
    await erp.query("UPDATE Disco SET Titulo = CONCAT(Titulo, ' (remaster)'), Lancado = '2001-09-11 08:46:00' WHERE Cod IN (3, 4)")
    await erp.query("UPDATE Faixa SET Preco = Preco + 1.01, Alterado = '2025-01-01 00:00:01' WHERE Disco = 1")
    // inserts: a new artist with a new album and its tracks, and a track on an old album
    await erp.query("INSERT INTO Artista VALUES (6, 'Hermeto Pascoal')")
    await erp.query("INSERT INTO Disco VALUES (13, 'Slaves Mass', 6, '1977-01-01 00:00:00')")
    await erp.query("INSERT INTO Faixa VALUES ('zz-900-Q', 13, 'Mixing Pot', '9.99', '2025-02-02 02:02:02'), ('ZY-901-q', 13, 'Little Cry for Him', '0.50', '2025-02-02 02:02:03'), ('Ab-902-x', 3, 'Bonus', '1.00', '2025-02-02 02:02:04')")
    // deletes: album 2 with its tracks (parent and children), artist 5 with its albums (5 and
    // 10) and their tracks (three levels), and a lone track
    await erp.query('DELETE FROM Faixa WHERE Disco IN (2, 5, 10)')
    await erp.query('DELETE FROM Disco WHERE Cod IN (2, 5, 10)')
    await erp.query('DELETE FROM Artista WHERE Cod = 5')
    await erp.query('DELETE FROM Faixa WHERE Codigo = ?', [trackCode(1)])

    // the daemon's first tick (30 s after it starts): artists applied, then albums, then tracks;
    // stopped once the tracks load is sealed, so that no second tick runs, the reconciler then
    // finishes: the refused parent deletes wait for the children's
    const daemon = await p.start('extractor')
    await eventually(async () => (await p.loads('tracks')).find((l) => l.id > before.tracks! && l.state !== 'open'), { what: 'the daemon\'s tracks load sealed', timeoutMs: 300_000, intervalMs: 1000 })
    t.equal(await daemon.stop(30_000), 0, 'the daemon stops cleanly')
    const reconciledAfter = async (stream: string): Promise<LoadRecord | undefined> =>
      (await p.loads(stream)).find((l) => l.id > before[stream]! && l.state === 'reconciled' && l.mode === 'full' && (l.deletedRows ?? 0) > 0)
    const done = await eventually(async () => {
      const loads = await Promise.all(['artists', 'albums', 'tracks'].map(reconciledAfter))
      return loads.every((l) => l !== undefined) ? loads as LoadRecord[] : undefined
    }, { what: 'a reconciled full load with deletes for each stream, from the daemon', timeoutMs: 300_000, intervalMs: 2000 })
    const [artists, albums, tracks] = done
    t.equal(tracks!.deletedRows, 16, 'tracks: album 2\'s five, albums 5 and 10\'s ten, and the lone one')
    t.equal(albums!.deletedRows, 3, 'albums: 2, 5 and 10')
    t.equal(artists!.deletedRows, 1, 'artists: 5')
    t.match(albums!.reason, /^deletes done after waiting for stream 'tracks' to reconcile a full load newer than this one.*constraint 'FK_TrackAlbumId'/, 'the albums deletes waited for the tracks\' (a foreign key refused them first)')
    t.match(artists!.reason, /^deletes done after waiting for stream 'albums' .*constraint 'FK_AlbumArtistId'/, 'the artists deletes waited for the albums\'')
    t.ok(albums!.id > artists!.id && tracks!.id > albums!.id, `loaded parents first: artists ${artists!.id} < albums ${albums!.id} < tracks ${tracks!.id}`)
    const letters = JSON.parse((await p.cli(['dlq', 'list', '--json'])).stdout) as unknown[]
    t.same(letters, [], 'no dead letter')
    await p.expectMirror(t)
  })

  await t.test('app schema – a child loaded before its new parent, and a 4-byte character for an NVARCHAR column, are dead letters that say why', async (t) => {
    const erp = p.source
    await erp.query("INSERT INTO Disco VALUES (20, 'Novo', 1, NULL)")
    await erp.query("INSERT INTO Faixa VALUES ('Ab-920-x', 20, 'Nova faixa', '2.00', '2025-03-03 03:03:03')")
    await erp.query("UPDATE Artista SET Nome = 'Björk 🎹' WHERE Cod = 2")
    // the wrong order: tracks without the albums load that brings album 20
    t.equal((await p.cli(['extract', '--stream', 'tracks', '--mode', 'full'])).code, 0, 'tracks sealed')
    t.equal((await p.cli(['extract', '--stream', 'artists', '--mode', 'full'])).code, 0, 'artists sealed')
    const letters = await eventually(async () => {
      const list = JSON.parse((await p.cli(['dlq', 'list', '--json'])).stdout) as { stream: string, reason: string }[]
      return list.length >= 2 ? list : undefined
    }, { what: 'two dead letters', timeoutMs: 120_000, intervalMs: 1000 })
    const reasons = letters.map((l) => `${l.stream}: ${l.reason}`).sort()
    // the persister bisects each batch: only the refused row is dead-lettered, named with its key
    // (docs/dead-letters.md); a diffed reload sends only the rows that changed, so its position varies
    t.match(reasons[0], /^artists: SIS_PERSIST_ROWS_REFUSED: batch 0 of load \d+ \(stream 'artists'\): 1 of \d+ rows refused, .*; row \d+ \(ArtistId=2\), column 'Name': Incorrect string value: '\\xF0\\x9F\\x8E\\xB9'/, 'the 4-byte character: row and column named')
    t.match(reasons[1], /^tracks: SIS_PERSIST_ROWS_REFUSED: batch \d+ of load \d+ \(stream 'tracks'\): .*refers to a row missing from table 'Album' \(constraint 'FK_TrackAlbumId'/, 'the missing parent: constraint named')

    // fixed at the source, loaded in order: the mirror is whole again
    await erp.query("UPDATE Artista SET Nome = 'Björk' WHERE Cod = 2")
    for (const stream of ['artists', 'albums', 'tracks']) {
      const result = await p.extract(stream)
      t.equal(result.code, 0, `extract ${stream} exits 0`, { stderr: result.stderr.slice(-2000) })
    }
    await p.expectMirror(t)
  })
})
