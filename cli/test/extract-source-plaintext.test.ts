import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { demoConfigYaml, runSisporta } from '@sisporta/cli'

// SISPORTA_SOURCE_ALLOW_PLAINTEXT reaches the SQL Server source through `sisporta extract`: a
// source URL with Encrypt=False stops the command at start (exit 2) unless it is set.

function configFile (): string {
  const dir = mkdtempSync(join(tmpdir(), 'sis-plaintext-'))
  const file = join(dir, 'sisporta.yaml')
  writeFileSync(file, demoConfigYaml())
  return file
}

t.test('cli extract – a SQL Server source without TLS is refused (exit 2) unless SISPORTA_SOURCE_ALLOW_PLAINTEXT=1', async (t) => {
  const env = {
    SISPORTA_CONFIG: configFile(),
    SISPORTA_TOKEN: 'x',
    SISPORTA_GATEWAY_URL: 'http://127.0.0.1:9',
    // nothing listens on port 9: allowed, the extract gets as far as connecting, and fails there
    SISPORTA_SOURCE_URL: 'Server=127.0.0.1,9;Database=ERP;User Id=reader;Password=Secret1;Encrypt=False;Connect Timeout=5'
  }
  const refused = await runSisporta(['extract', '--stream', 'products', '--mode', 'full'], env)
  t.equal(refused.code, 2)
  t.match(refused.stderr + refused.stdout, /SIS_SRC_PLAINTEXT/)
  t.match(refused.stderr + refused.stdout, /the login's password and every row read would cross the network in clear/)
  t.notMatch(refused.stderr + refused.stdout, /Secret1/)

  const allowed = await runSisporta(['extract', '--stream', 'products', '--mode', 'full'], { ...env, SISPORTA_SOURCE_ALLOW_PLAINTEXT: '1' })
  t.notMatch(allowed.stderr + allowed.stdout, /SIS_SRC_PLAINTEXT/, 'allowed: not refused')
  t.match(allowed.stderr + allowed.stdout, /SISPORTA_SOURCE_ALLOW_PLAINTEXT: the SQL Server connection is not encrypted/, 'allowed: the warning is logged')
  t.match(allowed.stderr + allowed.stdout, /SIS_SRC_CONNECT/, 'allowed: it goes on to connect')
  t.notMatch(allowed.stderr + allowed.stdout, /Secret1/)
})
