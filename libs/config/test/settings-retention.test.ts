import t from 'tap'
import { readSettings } from '@sisporta/config'

t.test('settings – retention: sane defaults, durations, 0 or off to keep everything', async (t) => {
  const d = readSettings({})
  t.same([d.loadRetentionSec, d.loadRetentionKeep, d.retentionIntervalSec, d.dlqMaxAgeSec], [30 * 86400, 20, 3600, 30 * 86400])
  const s = readSettings({ SISPORTA_LOAD_RETENTION: '90d', SISPORTA_LOAD_RETENTION_KEEP: '5', SISPORTA_RETENTION_INTERVAL: '15m', SISPORTA_DLQ_MAX_AGE: '7d' })
  t.same([s.loadRetentionSec, s.loadRetentionKeep, s.retentionIntervalSec, s.dlqMaxAgeSec], [90 * 86400, 5, 900, 7 * 86400])
  t.equal(readSettings({ SISPORTA_LOAD_RETENTION: '0' }).loadRetentionSec, 0)
  t.equal(readSettings({ SISPORTA_DLQ_MAX_AGE: 'off' }).dlqMaxAgeSec, 0)
})

t.test('settings – retention: a bad value exits 2 naming the variable', async (t) => {
  for (const [name, value, pattern] of [
    ['SISPORTA_LOAD_RETENTION', '30 days', /SISPORTA_LOAD_RETENTION='30 days' must be a duration .*, or 0 \(off\)/],
    ['SISPORTA_LOAD_RETENTION', '10m', /between 3600 s/],
    ['SISPORTA_LOAD_RETENTION_KEEP', '0', /SISPORTA_LOAD_RETENTION_KEEP='0' must be an integer between 1/],
    ['SISPORTA_RETENTION_INTERVAL', '1s', /SISPORTA_RETENTION_INTERVAL/],
    ['SISPORTA_DLQ_MAX_AGE', '-1', /SISPORTA_DLQ_MAX_AGE/]
  ] as const) {
    t.throws(() => readSettings({ [name]: value }), { code: 'SIS_CFG_ENV', exitCode: 2, message: pattern }, `${name}=${value}`)
  }
})
