import t from 'tap'
import { readSettings } from '@sisporta/config'

// SISPORTA_SOURCE_READ_ATTEMPTS: attempts at one source page before a transient failure fails
// the load (libs/source/src/retry-page-read.ts; its default there is the same 5).
t.test('settings – SISPORTA_SOURCE_READ_ATTEMPTS defaults to 5 and is bounded to 1–20', async (t) => {
  t.equal(readSettings({}).sourceReadAttempts, 5)
  t.equal(readSettings({ SISPORTA_SOURCE_READ_ATTEMPTS: '' }).sourceReadAttempts, 5)
  t.equal(readSettings({ SISPORTA_SOURCE_READ_ATTEMPTS: '1' }).sourceReadAttempts, 1, '1: never retry')
  t.equal(readSettings({ SISPORTA_SOURCE_READ_ATTEMPTS: '20' }).sourceReadAttempts, 20)
  for (const bad of ['0', '21', '2.5', 'many', '-1']) {
    t.throws(() => readSettings({ SISPORTA_SOURCE_READ_ATTEMPTS: bad }), { code: 'SIS_CFG_ENV', message: `SISPORTA_SOURCE_READ_ATTEMPTS='${bad}' must be an integer between 1 and 20` })
  }
})
