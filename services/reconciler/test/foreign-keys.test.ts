import t, { type Test } from 'tap'
import { parseConfig } from '@sisporta/config'
import type { LoadRecord } from '@sisporta/contracts'
import { createDb, migrate } from '@sisporta/db'
import { LoadRegistry } from '@sisporta/nats'
import { createLogger } from '@sisporta/observability'
import { logSink, testBus, testDatabase } from '@sisporta/testkit'
import { reconcileLoad, type ReconcileDeps } from '@sisporta/reconciler'
import { recordBatches, sealedLoad } from './setup.js'

// Albums and their tracks, as the application's migration made them: the track's foreign key
// refuses deleting an album that still has tracks. A third table, the application's own, refers
// to albums too and no stream mirrors it.
const SCHEMA = [
  'CREATE TABLE `Album` (`AlbumId` INT NOT NULL PRIMARY KEY, `Title` VARCHAR(50) NOT NULL)',
  'CREATE TABLE `Track` (`TrackId` INT NOT NULL PRIMARY KEY, `AlbumId` INT NOT NULL, CONSTRAINT `FK_TrackAlbumId` FOREIGN KEY (`AlbumId`) REFERENCES `Album` (`AlbumId`))',
  'CREATE TABLE `Favourite` (`UserId` INT NOT NULL, `AlbumId` INT NOT NULL, PRIMARY KEY (`UserId`, `AlbumId`), CONSTRAINT `FK_FavouriteAlbum` FOREIGN KEY (`AlbumId`) REFERENCES `Album` (`AlbumId`))'
]

const YAML = `
streams:
  - name: albums
    source: { table: Album }
    target: { table: Album, key: [AlbumId] }
    maxDeleteRatio: 1
    columns:
      - { name: AlbumId, from: AlbumId, type: int }
      - { name: Title, from: Title, type: string, length: 50 }
  - name: tracks
    dependsOn: [albums]
    source: { table: Track }
    target: { table: Track, key: [TrackId] }
    maxDeleteRatio: 1
    columns:
      - { name: TrackId, from: TrackId, type: int }
      - { name: AlbumId, from: AlbumId, type: int }
`

async function setup (t: Test): Promise<{ deps: ReconcileDeps, registry: LoadRegistry, sql: Awaited<ReturnType<typeof testDatabase>>['sql'] }> {
  const { nc, names } = await testBus(t)
  const registry = await LoadRegistry.bind(nc, names)
  const { url, sql } = await testDatabase(t)
  for (const statement of SCHEMA) await sql.query(statement)
  const db = createDb(url)
  t.teardown(async () => { await db.destroy() })
  const config = parseConfig(YAML, 'app.yaml', {})
  await migrate(db, config)
  const log = createLogger({ service: 'reconciler', level: 'debug', destination: logSink().stream })
  return { deps: { registry, db, config, settings: { openTimeoutSec: 3600, applyTimeoutSec: 3600, deleteChunk: 1000 }, log }, registry, sql }
}

type Sql = Awaited<ReturnType<typeof setup>>['sql']

/** A full load whose batch is applied: `rows` of `table` stamped with it (upserted), its bookkeeping recorded. */
async function appliedRows (sql: Sql, registry: LoadRegistry, stream: string, table: string, rows: unknown[][]): Promise<LoadRecord> {
  const load = await sealedLoad(registry, stream, 'full', { batches: 1, rows: rows.length })
  const columns = table === 'Album' ? '`AlbumId`, `Title`' : '`TrackId`, `AlbumId`'
  await sql.query(`INSERT INTO \`${table}\` (${columns}, _sisporta_load) VALUES ? ON DUPLICATE KEY UPDATE _sisporta_load = VALUES(_sisporta_load)`, [rows.map((r) => [...r, load.id])])
  await recordBatches(sql, stream, load.id, { 0: rows.length })
  return load
}

async function ids (sql: Sql, table: string): Promise<number[]> {
  const [rows] = await sql.query(`SELECT \`${table}Id\` AS id FROM \`${table}\` ORDER BY 1`) as unknown as [{ id: number }[]]
  return rows.map((r) => r.id)
}

t.test('foreign keys – a parent\'s delete refused by child rows waits for the child stream\'s newer full load, then goes through', async (t) => {
  const { deps, registry, sql } = await setup(t)
  // before: albums 1–3 and their tracks, from earlier loads (stamp 0)
  await sql.query("INSERT INTO `Album` VALUES (1, 'One', 0), (2, 'Two', 0), (3, 'Three', 0)")
  await sql.query('INSERT INTO `Track` VALUES (10, 1, 0), (30, 3, 0), (31, 3, 0)')
  // the ERP deleted album 3 with its tracks: the albums load (applied first) no longer has it
  const albums = await appliedRows(sql, registry, 'albums', 'Album', [[1, 'One'], [2, 'Two']])
  const waiting = await reconcileLoad(deps, albums)
  t.equal(waiting?.state, 'applied', 'not held, not failed: it waits')
  t.equal(waiting?.reason, "waiting for stream 'tracks' to reconcile a full load newer than this one, whose deletes go first: rows this load deletes are still referred to " +
    "(constraint 'FK_TrackAlbumId' of table 'Track': CONSTRAINT `FK_TrackAlbumId` FOREIGN KEY (`AlbumId`) REFERENCES `Album` (`AlbumId`))", 'the record says what it waits for')
  t.same(await ids(sql, 'Album'), [1, 2, 3], 'nothing deleted yet')

  // until the tracks stream reconciles a newer load, the album load tries nothing: even with the
  // references gone by other means it stays as it is (no count, no delete each sweep)
  await sql.query('UPDATE `Track` SET `AlbumId` = 1 WHERE `AlbumId` = 3')
  t.equal((await reconcileLoad(deps, albums))?.state, 'applied', 'still waiting')
  t.same(await ids(sql, 'Album'), [1, 2, 3])
  await sql.query('UPDATE `Track` SET `AlbumId` = 3 WHERE `TrackId` IN (30, 31)')

  // the tracks load (opened after the albums one) deletes album 3's tracks
  const tracks = await appliedRows(sql, registry, 'tracks', 'Track', [[10, 1]])
  t.match(await reconcileLoad(deps, tracks), { state: 'reconciled', deletedRows: 2 })
  t.same(await ids(sql, 'Track'), [10])
  const done = await reconcileLoad(deps, albums)
  t.match(done, { state: 'reconciled', deletedRows: 1 }, 'then the album\'s delete goes through')
  t.match(done?.reason, /^deletes done after waiting for stream 'tracks' to reconcile a full load newer than this one/, 'the record says its deletes waited')
  t.same(await ids(sql, 'Album'), [1, 2])
})

t.test('foreign keys – still referenced after the child stream\'s newer load: held naming the constraint; approved, it fails', async (t) => {
  const { deps, registry, sql } = await setup(t)
  await sql.query("INSERT INTO `Album` VALUES (1, 'One', 0), (3, 'Three', 0)")
  await sql.query('INSERT INTO `Track` VALUES (10, 1, 0), (30, 3, 0)')
  const albums = await appliedRows(sql, registry, 'albums', 'Album', [[1, 'One']])
  // the ERP kept track 30 of the album it deleted (no foreign key there): the tracks load has it
  const tracks = await appliedRows(sql, registry, 'tracks', 'Track', [[10, 1], [30, 3]])
  t.match(await reconcileLoad(deps, tracks), { state: 'reconciled', deletedRows: 0 })
  const held = await reconcileLoad(deps, albums)
  t.equal(held?.state, 'held')
  t.match(held?.reason, /^cannot delete: rows this load deletes are still referred to \(constraint 'FK_TrackAlbumId' of table 'Track': .*\), even after stream 'tracks' reconciled a newer full load .*; approve with `sisporta loads approve \d+` once they are gone, or discard with `sisporta loads discard \d+`$/)
  t.same(await ids(sql, 'Album'), [1, 3], 'nothing deleted')
  const { load: approved } = await registry.transition('albums', albums.id, (l) => ({ ...l, state: 'approved', approvedBy: 'test' }))
  const failed = await reconcileLoad(deps, approved)
  t.equal(failed?.state, 'failed', 'an approval cannot delete what a foreign key protects')
  t.match(failed?.reason, /^cannot delete: .*constraint 'FK_TrackAlbumId'.*; 0 rows deleted; the next full load tries again$/)
})

t.test('foreign keys – rows referred to by a table no stream mirrors: held at once, naming the constraint', async (t) => {
  const { deps, registry, sql } = await setup(t)
  await sql.query("INSERT INTO `Album` VALUES (1, 'One', 0), (2, 'Two', 0)")
  await sql.query('INSERT INTO `Favourite` VALUES (7, 2)')
  const albums = await appliedRows(sql, registry, 'albums', 'Album', [[1, 'One']])
  const held = await reconcileLoad(deps, albums)
  t.equal(held?.state, 'held')
  t.match(held?.reason, /^cannot delete: rows this load deletes are still referred to \(constraint 'FK_FavouriteAlbum' of table 'Favourite': CONSTRAINT `FK_FavouriteAlbum` FOREIGN KEY \(`AlbumId`\) REFERENCES `Album` \(`AlbumId`\)\), by a table no stream of this config mirrors/)
  t.same(await ids(sql, 'Album'), [1, 2])
})
