import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { GATEWAY_ERRORS, GatewayError } from '../src/index.js'

const SRC = join(import.meta.dirname, '..', 'src')

t.test('errors – every code used in the sources is in the catalogue, and every catalogued code is used', async (t) => {
  const used = new Set<string>()
  for (const file of readdirSync(SRC).filter((f) => f.endsWith('.ts') && f !== 'errors.ts')) {
    for (const m of readFileSync(join(SRC, file), 'utf8').matchAll(/'(SIS_GW_[A-Z_]+)'/g)) used.add(m[1]!)
  }
  const catalogued = new Set(Object.keys(GATEWAY_ERRORS))
  t.same([...used].filter((c) => !catalogued.has(c)), [], 'no code outside the catalogue')
  t.same([...catalogued].filter((c) => !used.has(c)), [], 'no catalogued code unused')
})

t.test('errors – request errors carry their status and reason phrase; start-up errors exit 2', async (t) => {
  const busy = new GatewayError('SIS_GW_BUSY', 'busy')
  t.same(busy.toReply(), { statusCode: 503, code: 'SIS_GW_BUSY', error: 'Service Unavailable', message: 'busy' })
  t.equal(busy.retryAfterSec, 1)
  t.equal(busy.exitCode, undefined)
  const startup = new GatewayError('SIS_GW_AUTH_NOT_CONFIGURED', 'no key')
  t.equal(startup.exitCode, 2)
})
