import t from 'tap'
import { createServer } from 'node:net'
import { createLogger, createMetricsRegistry, createServiceApp, reservePort, reservedPort, ServiceError } from '@sisporta/observability'
import { freeLoopbackPort, logSink } from '@sisporta/testkit'

t.test('reserve port – a port another process holds: SIS_SVC_PORT_IN_USE naming the port, the address and the setting, exit 1', async (t) => {
  const port = await freeLoopbackPort()
  const other = createServer()
  await new Promise<void>((resolve) => other.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => other.close(resolve)))
  const err = await reservePort({ host: '127.0.0.1', port, setting: 'SISPORTA_METRICS_PORT' }).then(() => undefined, (e: unknown) => e)
  t.type(err, ServiceError)
  t.match(err, { code: 'SIS_SVC_PORT_IN_USE', exitCode: 1, message: `port ${port} on 127.0.0.1 is already in use (SISPORTA_METRICS_PORT): another process listens there; stop it, or give this service another port with SISPORTA_METRICS_PORT` })
  t.equal(reservedPort('127.0.0.1', port), undefined, 'nothing is remembered for a port not bound')
})

t.test('reserve port – an address that is not this machine\'s: SIS_SVC_LISTEN, exit 2', async (t) => {
  const err = await reservePort({ host: '192.0.2.1', port: await freeLoopbackPort(), setting: 'SISPORTA_HTTP_PORT' }).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'SIS_SVC_LISTEN', exitCode: 2, message: /^cannot listen on port \d+ on 192\.0\.2\.1 \(SISPORTA_HTTP_PORT\): the address is not one of this machine's \(SISPORTA_HTTP_HOST\)$/ })
})

t.test('reserve port – 503 until something serves it, then the handler given last; closing frees the port', async (t) => {
  const port = await freeLoopbackPort()
  const reservation = await reservePort({ host: '127.0.0.1', port, setting: 'SISPORTA_HTTP_PORT' })
  t.equal(reservedPort('127.0.0.1', port), reservation, 'known to this process by host and port')
  const before = await fetch(`${reservation.address}/healthz`)
  t.equal(before.status, 503)
  t.same(await before.json(), { status: 'starting' })
  reservation.serve((_req, res) => { res.end('first') })
  t.equal(await (await fetch(reservation.address)).text(), 'first')
  reservation.serve((_req, res) => { res.end('second') })
  t.equal(await (await fetch(reservation.address)).text(), 'second', 'the next handler takes over')
  await reservation.close()
  t.equal(reservedPort('127.0.0.1', port), undefined)
  const again = await reservePort({ host: '127.0.0.1', port, setting: 'SISPORTA_HTTP_PORT' })
  t.pass('the port can be bound again')
  await again.close()
})

t.test('service app – /metrics on a port this process reserved is served through the reservation, not bound twice', async (t) => {
  const port = await freeLoopbackPort()
  const reservation = await reservePort({ host: '127.0.0.1', port, setting: 'SISPORTA_METRICS_PORT' })
  t.teardown(() => reservation.close())
  const registry = createMetricsRegistry('shell-test')
  const app = await createServiceApp({ log: createLogger({ service: 'shell-test', destination: logSink().stream }), registry, metricsListen: { host: '127.0.0.1', port } })
  t.teardown(() => app.close())
  await app.ready()
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  t.equal(res.status, 200)
  t.match(await res.text(), /sisporta_process_cpu_seconds_total\{service="shell-test"\}/)
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 404, 'not on the service port')
})
