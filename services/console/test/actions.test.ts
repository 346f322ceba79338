import t from 'tap'
import { headers } from 'nats'
import { BatchHeaders } from '@sisporta/contracts'
import { consoleEnv } from './setup.js'

const HOST = 'console.test:9104'

t.test('console actions – drop a dead letter; an unknown letter is 404, a load that is not held cannot be approved (409)', async (t) => {
  const { app, nc, names, registry, sign } = await consoleEnv(t)
  const auth = { host: HOST, authorization: `Bearer ${sign()}` }
  const load = await registry.openLoad({ stream: 'products', mode: 'full' })
  const h = headers()
  h.set(BatchHeaders.Stream, 'products')
  h.set(BatchHeaders.Load, String(load.id))
  h.set(BatchHeaders.Batch, '0')
  h.set(BatchHeaders.Rows, '1')
  h.set(BatchHeaders.Reason, 'SIS_PERSIST_ROWS_REFUSED: <b>row 0</b> refused')
  const { seq } = await nc.jetstream().publish(names.dlqSubject('products'), new TextEncoder().encode(JSON.stringify({ columns: ['sku'], rows: [['<script>x</script>']] })), { headers: h })

  const listed = await app.inject({ url: '/api/dead-letters?stream=products', headers: auth })
  t.equal(listed.statusCode, 200)
  t.match(listed.json(), [{ seq, stream: 'products', loadId: load.id, columns: ['sku'], rowValues: [['<script>x</script>']] }])
  const page = await app.inject({ url: `/dead-letters/${seq}`, headers: auth })
  t.equal(page.statusCode, 200)
  t.notOk(page.body.includes('<script>x'), 'the row value is escaped on the letter\'s page')
  t.ok(page.body.includes('&lt;b&gt;row 0&lt;/b&gt;'), 'and so is the reason')

  const approve = await app.inject({ method: 'POST', url: `/api/loads/${load.id}/approve`, headers: auth })
  t.equal(approve.statusCode, 409)
  t.match(approve.json(), { code: 'SIS_CONSOLE_CONFLICT', message: /is open; only a held load can be approved/ })
  t.equal((await registry.get('products', load.id))?.load.state, 'open', 'unchanged')
  const unknownLoad = await app.inject({ method: 'POST', url: '/api/loads/999/discard', headers: auth })
  t.equal(unknownLoad.statusCode, 404)

  const drop = await app.inject({ method: 'POST', url: `/api/dead-letters/${seq}/drop`, headers: auth })
  t.equal(drop.statusCode, 200, drop.body)
  t.match(drop.json().message, new RegExp(`dead letter #${seq} \\(stream products, load ${load.id}, batch 0\\) dropped`))
  t.equal((await (await nc.jetstreamManager()).streams.info(names.dlqStream)).state.messages, 0, 'the letter is gone')
  const again = await app.inject({ method: 'POST', url: `/api/dead-letters/${seq}/replay`, headers: auth })
  t.equal(again.statusCode, 404)
  t.equal(again.json().code, 'SIS_CONSOLE_NOT_FOUND')
  const bad = await app.inject({ method: 'POST', url: '/api/dead-letters/abc/replay', headers: auth })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'SIS_CONSOLE_BAD_REQUEST')
  const unknownStream = await app.inject({ method: 'POST', url: '/api/streams/nope/pause', headers: auth })
  t.equal(unknownStream.statusCode, 404, 'a stream not in the config')
})
