import t from 'tap'
import { dependencyOrder, dependentsOf, loadConfig, parseConfig } from '@sisporta/config'

/** A Chinook-like application schema: PascalCase names, as its authors wrote them. */
const chinook = `
streams:
  - name: artists
    source: { table: Artist }
    target: { table: Artist, key: [ArtistId] }
    columns:
      - { name: ArtistId, from: ArtistId, type: int }
      - { name: Name, from: Name, type: string, length: 120 }
  - name: tracks
    dependsOn: [albums]
    source: { table: Track }
    target: { table: Track, key: [TrackId] }
    columns:
      - { name: TrackId, from: TrackId, type: int }
      - { name: AlbumId, from: AlbumId, type: int }
      - { name: UpdatedAt, from: UpdatedAt, type: datetime, precision: 0 }
  - name: albums
    dependsOn: [artists]
    source: { table: Album }
    target: { table: Album, key: [AlbumId] }
    columns:
      - { name: AlbumId, from: AlbumId, type: int }
      - { name: ArtistId, from: ArtistId, type: int }
      - { name: "Release Date", from: ReleaseDate, type: datetime, precision: 3 }
`

function refusal (yaml: string): unknown {
  try {
    parseConfig(yaml, 'app.yaml', {})
  } catch (err) {
    return err
  }
  return undefined
}

t.test('config – target tables and columns may be any MySQL name, kept as written', async (t) => {
  const config = parseConfig(chinook, 'app.yaml', {})
  const albums = config.stream('albums')!
  t.equal(albums.target.table, 'Album')
  t.same(albums.target.key, ['AlbumId'])
  t.same(albums.columns.map((c) => c.name), ['AlbumId', 'ArtistId', 'Release Date'])
  t.same(albums.dependsOn, ['artists'])
  for (const name of ['InvoiceLine', '2024_sales', 'a$b', 'Preço Unitário', 'we`ird', "it's", 'x'.repeat(64), ' leading', '名前']) {
    const yaml = chinook.replace('target: { table: Artist, key: [ArtistId] }', `target: { table: ${JSON.stringify(name)}, key: [ArtistId] }`)
      .replace('{ name: Name, from: Name,', `{ name: ${JSON.stringify(name)}, from: Name,`)
    const artists = parseConfig(yaml, 'app.yaml', {}).stream('artists')!
    t.equal(artists.target.table, name, `table ${JSON.stringify(name)}`)
    t.equal(artists.columns[1]!.name, name, `column ${JSON.stringify(name)}`)
  }
})

t.test('config – a target name MySQL would refuse names stream, key and the rule', async (t) => {
  const cases: [string, string][] = [
    ['trailing space', 'Name '],
    ['65 characters', 'x'.repeat(65)],
    ['a control character', 'a\tb'],
    ['NUL', 'a\u0000b'],
    ['above U+FFFF', 'emoji 😀'],
    ['empty', '']
  ]
  for (const [what, name] of cases) {
    t.match(refusal(chinook.replace('{ name: Name, from: Name,', `{ name: ${JSON.stringify(name)}, from: Name,`)),
      { code: 'SIS_CFG_INVALID', message: /^app\.yaml: stream 'artists', columns\[1\].*key 'name': expected a MySQL name: 1 to 64 characters/ }, `column: ${what}`)
    t.match(refusal(chinook.replace('target: { table: Artist,', `target: { table: ${JSON.stringify(name)},`)),
      { code: 'SIS_CFG_INVALID', message: /^app\.yaml: stream 'artists', key 'target\.table': expected a MySQL name/ }, `table: ${what}`)
  }
  t.match(refusal(chinook.replace('- name: artists', '- name: Artists')), { code: 'SIS_CFG_INVALID', message: /stream 'Artists', key 'name': expected a lower-case identifier/ },
    'stream names stay [a-z][a-z0-9_]*: they are subjects, scopes and metric labels')
})

t.test('config – names MySQL does not tell apart by case are refused as duplicates', async (t) => {
  t.match(refusal(chinook.replace('{ name: Name, from: Name,', '{ name: artistid, from: Name,')),
    { code: 'SIS_CFG_DUPLICATE_COLUMN', message: /columns\[1\] \(artistid\), key 'name': target column declared twice \(as 'ArtistId': MySQL column names ignore case\)/ })
  t.match(refusal(chinook.replace('target: { table: Track,', 'target: { table: album,')),
    { code: 'SIS_CFG_DUPLICATE_TARGET', message: /stream 'albums', key 'target.table': table 'Album' is already the target of stream 'tracks' \(as 'album'/ })
  t.match(refusal(chinook.replace('{ name: Name, from: Name,', '{ name: _SISPORTA_load, from: Name,')), { code: 'SIS_CFG_RESERVED' })
})

t.test('config – a datetime precision is 0 to 6 fractional digits, a decimal precision 1 to 65', async (t) => {
  const config = parseConfig(chinook, 'app.yaml', {})
  t.equal(config.stream('tracks')!.columns[2]!.precision, 0)
  t.equal(config.stream('albums')!.columns[2]!.precision, 3)
  t.match(refusal(chinook.replace('precision: 0 }', 'precision: 7 }')), { code: 'SIS_CFG_COLUMN', message: /stream 'tracks', columns\[2\] \(UpdatedAt\), key 'precision': a datetime precision is 0 to 6, got 7/ })
  t.match(refusal(chinook.replace('{ name: TrackId, from: TrackId, type: int }', '{ name: TrackId, from: TrackId, type: decimal, precision: 0 }')),
    { code: 'SIS_CFG_COLUMN', message: /key 'precision': a decimal precision is 1 to 65, got 0/ })
})

t.test('config – dependsOn names other streams of the file, without cycles', async (t) => {
  t.match(refusal(chinook.replace('dependsOn: [albums]', 'dependsOn: [album]')),
    { code: 'SIS_CFG_DEPENDS_ON', message: /^app\.yaml: stream 'tracks', key 'dependsOn\[0\]': there is no stream 'album' in this file/ })
  t.match(refusal(chinook.replace('dependsOn: [albums]', 'dependsOn: [tracks]')),
    { code: 'SIS_CFG_DEPENDS_ON', message: /stream 'tracks', key 'dependsOn\[0\]': a stream cannot depend on itself/ })
  t.match(refusal(chinook.replace('    source: { table: Artist }', '    dependsOn: [tracks]\n    source: { table: Artist }')),
    { code: 'SIS_CFG_DEPENDS_ON', message: /^app\.yaml: key 'dependsOn': streams depend on each other in a cycle: artists → tracks → albums → artists; one of them must be loaded first/ })
  t.match(refusal(chinook.replace('dependsOn: [albums]', 'dependsOn: [albums, albums]')), { code: 'SIS_CFG_INVALID', message: /key 'dependsOn'/ })
})

t.test('config – dependency order puts parents first, dependents are the streams naming a parent', async (t) => {
  const config = parseConfig(chinook, 'app.yaml', {})
  t.same(dependencyOrder(config.streams).map((s) => s.name), ['artists', 'albums', 'tracks'], 'albums before tracks though listed after')
  t.same(dependentsOf(config.streams, 'albums').map((s) => s.name), ['tracks'])
  t.same(dependentsOf(config.streams, 'tracks').map((s) => s.name), [])
  const independent = [{ name: 'b' }, { name: 'a' }]
  t.same(dependencyOrder(independent).map((s) => s.name), ['b', 'a'], 'otherwise the order given')
})

t.test('config – examples/app-schema.yaml is valid and ordered parents first', async (t) => {
  const config = loadConfig(new URL('../../../examples/app-schema.yaml', import.meta.url).pathname, {})
  t.same(dependencyOrder(config.streams).map((s) => `${s.name}→${s.target.table}`), ['artists→Artist', 'albums→Album', 'invoice_lines→InvoiceLine'])
  t.equal(config.stream('albums')!.columns[3]!.name, 'Released At')
  t.equal(config.stream('albums')!.columns[3]!.precision, 0)
})
