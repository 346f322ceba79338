import t from 'tap'
import { parseConfig } from '@sisporta/config'
import { errorOf, startGateway } from './fixture.js'

// An application's own names: PascalCase, a space, an accent; a DATETIME without fractions.
const config = parseConfig(`
streams:
  - name: albums
    source: { table: Discos }
    target: { table: Album, key: [AlbumId] }
    columns:
      - { name: AlbumId, from: Cod, type: int }
      - { name: Gênero, from: Genero, type: string, length: 40 }
      - { name: Released At, from: Lancado, type: datetime, precision: 0 }
`, 'app.yaml', {})

t.test('batch – application names (accents, spaces) are accepted, and a datetime beyond its precision is a 400 naming row and column', async (t) => {
  const gw = await startGateway(t, { config })
  const load = await gw.openLoad('albums')
  const columns = ['AlbumId', 'Gênero', 'Released At']
  const ok = await gw.postBatch(load, 0, { columns, rows: [[1, 'Bossa nova', '1963-03-18T00:00:00'], [2, 'MPB ☕', '1972-01-01T10:00:00.000000'], [3, null, null]] })
  t.equal(ok.statusCode, 202, ok.body)
  // both parses of the body (the latin1 fast path declines a non-ASCII name) give one verdict
  const late = await gw.postBatch(load, 1, { columns, rows: [[4, 'Samba', '1963-03-18T00:00:00'], [5, 'Samba', '1963-03-18T00:00:00.5']] })
  const error = errorOf(t, late, 400, 'SIS_GW_BATCH_INVALID')
  t.equal(error.message, "batch 1: row 1, column 'Released At' (datetime): '1963-03-18T00:00:00.5' has fractional seconds beyond the column's 0 digits (datetime precision 0); it would be rounded or cut")
  const ascii = await gw.postBatch(load, 2, { columns: ['AlbumId', 'Released At'], rows: [[6, '1963-03-18T00:00:00.000001']] })
  t.match(errorOf(t, ascii, 400, 'SIS_GW_BATCH_INVALID').message, /row 0, column 'Released At' \(datetime\): .* beyond the column's 0 digits/, 'the same through the latin1 fast path (ASCII names)')
  const unknown = await gw.postBatch(load, 3, { columns: ['AlbumId', 'genero'], rows: [[7, 'x']] })
  t.match(errorOf(t, unknown, 400, 'SIS_GW_BATCH_INVALID').message, /unknown column 'genero' for stream 'albums'/, 'names match exactly as configured')
  t.equal(await gw.messageCount(), 1, 'only the valid batch was published')
})
