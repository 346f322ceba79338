import t from 'tap'
import { createDb, flavourOfVersion, serverFlavour } from '../src/index.js'
import { testDatabase } from '@sisporta/testkit'

t.test('server flavour – version strings', async (t) => {
  const cases: [string, 'mariadb' | 'mysql', boolean][] = [
    ['10.11.19-MariaDB', 'mariadb', false],
    ['11.4.2-MariaDB-ubu2404', 'mariadb', false],
    ['8.0.36', 'mysql', true],
    ['8.4.3', 'mysql', true],
    ['9.1.0', 'mysql', true],
    ['8.0.19', 'mysql', true],
    ['8.0.18', 'mysql', false],
    ['8.0.36-0ubuntu0.22.04.1', 'mysql', true],
    ['8.0.35-27', 'mysql', true], // Percona Server
    ['5.7.44', 'mysql', false],
    ['5.7.44-log', 'mysql', false],
    ['something else', 'mysql', false]
  ]
  for (const [version, server, rowAlias] of cases) {
    t.same(flavourOfVersion(version), { server, version, rowAlias }, version)
  }
})

t.test('server flavour – asked of the server once per pool', async (t) => {
  const { url } = await testDatabase(t)
  const db = createDb(url, { poolSize: 1 })
  t.teardown(() => db.destroy())
  const flavour = await serverFlavour(db)
  t.equal(flavour.server, /mariadb/i.test(flavour.version) ? 'mariadb' : 'mysql', `this server: ${flavour.version}`)
  t.equal(await serverFlavour(db), flavour, 'the same answer, remembered')

  const down = createDb('mysql://nobody@127.0.0.1:1/none', { poolSize: 1 })
  t.teardown(() => down.destroy())
  await t.rejects(serverFlavour(down), 'an unreachable server is an error')
  await t.rejects(serverFlavour(down), 'asked again, not a remembered failure')
})
