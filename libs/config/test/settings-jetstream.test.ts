import t from 'tap'
import { busProvisioning, readSettings } from '@sisporta/config'

t.test('settings – JetStream: replicas 1, 3 or 5; dead letters up to 1 GiB; ack wait 60 s by default', async (t) => {
  const d = readSettings({})
  t.same([d.jetstreamReplicas, d.dlqMaxBytes, d.ackWaitSec], [1, 1024 ** 3, 60])
  const s = readSettings({ SISPORTA_JETSTREAM_REPLICAS: '3', SISPORTA_DLQ_MAX_BYTES: '512MiB', SISPORTA_ACK_WAIT: '2m' })
  t.same([s.jetstreamReplicas, s.dlqMaxBytes, s.ackWaitSec], [3, 512 * 1024 ** 2, 120])
  t.equal(readSettings({ SISPORTA_JETSTREAM_REPLICAS: '5' }).jetstreamReplicas, 5)
  t.equal(readSettings({ SISPORTA_DLQ_MAX_BYTES: '2GiB' }).dlqMaxBytes, 2 * 1024 ** 3)
  t.equal(readSettings({ SISPORTA_DLQ_MAX_BYTES: '10000000' }).dlqMaxBytes, 10_000_000, 'plain bytes')
  t.equal(readSettings({ SISPORTA_DLQ_MAX_BYTES: '0' }).dlqMaxBytes, 0, '0: no limit')
  t.equal(readSettings({ SISPORTA_DLQ_MAX_BYTES: 'off' }).dlqMaxBytes, 0, 'off: no limit')
})

t.test('settings – JetStream: a bad value exits 2 naming the variable', async (t) => {
  for (const [name, value, pattern] of [
    ['SISPORTA_JETSTREAM_REPLICAS', '2', /SISPORTA_JETSTREAM_REPLICAS='2' must be one of 1, 3, 5/],
    ['SISPORTA_JETSTREAM_REPLICAS', 'three', /SISPORTA_JETSTREAM_REPLICAS/],
    ['SISPORTA_DLQ_MAX_BYTES', '1GB', /SISPORTA_DLQ_MAX_BYTES='1GB' must be a size/],
    ['SISPORTA_DLQ_MAX_BYTES', '1000', /between 1048576/],
    ['SISPORTA_ACK_WAIT', '1s', /SISPORTA_ACK_WAIT/]
  ] as const) {
    t.throws(() => readSettings({ [name]: value }), { code: 'SIS_CFG_ENV', message: pattern }, `${name}=${value}`)
  }
})

t.test('settings – every service provisions the bus with the same global settings', async (t) => {
  const s = readSettings({ SISPORTA_JETSTREAM_REPLICAS: '3', SISPORTA_MAX_DELIVER: '7', SISPORTA_ACK_WAIT: '90s', SISPORTA_DLQ_MAX_AGE: '7d', SISPORTA_DLQ_MAX_BYTES: '2GiB' })
  t.same(busProvisioning(s), { maxDeliver: 7, ackWaitMs: 90_000, replicas: 3, dlqMaxAgeSec: 7 * 86400, dlqMaxBytes: 2 * 1024 ** 3 })
})
