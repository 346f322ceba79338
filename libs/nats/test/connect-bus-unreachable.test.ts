import t from 'tap'
import { inspect } from 'node:util'
import { BusError, NO_BUS_SECURITY, connectBus } from '@sisporta/nats'
import { freeLoopbackPort } from '@sisporta/testkit'

const PASSWORD = 'bus-secret-' + 'q'.repeat(14)

/** Every log line, with every error and its causes in full (as deep as a logger could go). */
function recordingLog (): { log: { info (o: object, m?: string): void, warn (o: object, m?: string): void }, lines: string[] } {
  const lines: string[] = []
  const record = (o: object, m?: string): void => { lines.push(`${m ?? ''} ${inspect(o, { depth: 10 })}`) }
  return { log: { info: record, warn: record }, lines }
}

t.test('connect bus – a server that is not there: SIS_BUS_UNREACHABLE naming SISPORTA_NATS_URL, host:port and "connection refused", exit 1, never the password', async (t) => {
  const port = await freeLoopbackPort()
  const { log, lines } = recordingLog()
  const retries: BusError[] = []
  const err = await connectBus({ url: `nats://alice:${PASSWORD}@127.0.0.1:${port}`, security: NO_BUS_SECURITY, name: 'unreachable-test', log, connectTimeoutMs: 1_500, onRetry: (e) => { retries.push(e) } })
    .then(() => undefined, (e: unknown) => e)
  t.type(err, BusError)
  t.match(err, { code: 'SIS_BUS_UNREACHABLE', exitCode: 1 })
  t.match((err as Error).message, new RegExp(`^cannot connect to NATS at nats://127\\.0\\.0\\.1:${port} \\(SISPORTA_NATS_URL\\): connection refused: nothing listens there \\(CONNECTION_REFUSED, ECONNREFUSED\\)$`))
  t.ok(retries.length >= 1 && retries.every((r) => r.code === 'SIS_BUS_UNREACHABLE'), `each retried attempt is reported, coded (${retries.length})`)
  t.ok(lines.some((l) => l.includes('NATS not reachable, retrying') && l.includes('SIS_BUS_UNREACHABLE')), 'the retries are logged with the code')
  t.notOk(inspect(err, { depth: 10 }).includes(PASSWORD), 'not in the error nor its causes')
  t.notOk(lines.some((l) => l.includes(PASSWORD)), 'not in any log line')
})

t.test('connect bus – a host name that does not resolve: SIS_BUS_UNREACHABLE saying DNS', async (t) => {
  const err = await connectBus({ url: `nats://${PASSWORD}@no-such-host.invalid:4222`, security: NO_BUS_SECURITY, name: 'dns-test', connectTimeoutMs: 1_000 })
    .then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'SIS_BUS_UNREACHABLE', exitCode: 1, message: /^cannot connect to NATS at nats:\/\/no-such-host\.invalid:4222 \(SISPORTA_NATS_URL\): host name (not found|lookup failed for now) \(DNS\) \((ENOTFOUND|EAI_AGAIN)\)$/ })
  t.notOk(inspect(err, { depth: 10 }).includes(PASSWORD), 'a token in the URL is not in the error either')
})
