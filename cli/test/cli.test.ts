import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createVerifier } from 'fast-jwt'
import { demoConfigYaml, runSisporta } from '@sisporta/cli'

const sisporta = runSisporta

function configFile (yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sis-cli-'))
  const file = join(dir, 'sisporta.yaml')
  writeFileSync(file, yaml)
  return file
}

t.test('cli – token issue prints a JWT scoped to the streams', async (t) => {
  const secret = 's3cret-s3cret-s3cret-s3cret-s3cret'
  const { code, stdout } = await sisporta(['token', 'issue', '--stream', 'products', '--stream', 'customers', '--ttl', '2h'], { SISPORTA_JWT_SECRET: secret })
  t.equal(code, 0)
  const claims = createVerifier({ key: secret, algorithms: ['HS256'] })(stdout.trim()) as { sub: string, streams: string[], exp: number, iat: number }
  t.same(claims.streams, ['products', 'customers'])
  t.equal(claims.exp - claims.iat, 7200)
})

t.test('cli – bad usage exits 2 with a message', async (t) => {
  const noSecret = await sisporta(['token', 'issue', '--stream', 'products'], { SISPORTA_JWT_SECRET: '' })
  t.equal(noSecret.code, 2)
  t.match(noSecret.stderr, /SISPORTA_JWT_SECRET/)
  const unknown = await sisporta(['frobnicate'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown command 'frobnicate'/)
  const badOption = await sisporta(['extract', '--strem', 'x'])
  t.equal(badOption.code, 2)
  t.match(badOption.stderr, /extract: .*--strem/)
})

t.test('cli – a bad config exits 2 naming file, stream and key', async (t) => {
  const file = configFile(demoConfigYaml().replace('    deletes: hard\n    maxDeleteRatio: 0.2', '    deletes: hard\n    maxDeletRatio: 0.2'))
  const result = await sisporta(['extract', '--stream', 'products'], { SISPORTA_CONFIG: file })
  t.equal(result.code, 2)
  t.match(result.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: stream 'products', key 'maxDeletRatio': unknown key`))
  const unknownStream = await sisporta(['extract', '--stream', 'nope'], { SISPORTA_CONFIG: configFile(demoConfigYaml()), SISPORTA_TOKEN: 'x' })
  t.equal(unknownStream.code, 2)
  t.match(unknownStream.stderr, /stream 'nope' is not in/)
})
