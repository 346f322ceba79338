import t from 'tap'
import { readSettings } from '@sisporta/config'

// SISPORTA_SOURCE_ALLOW_PLAINTEXT: the extractor's consent to a SQL Server source URL that turns
// TLS off (refused by default with SIS_SRC_PLAINTEXT, see libs/source/test/mssql-url.test.ts).
t.test('settings – SISPORTA_SOURCE_ALLOW_PLAINTEXT is off unless set to 1 or true', async (t) => {
  t.equal(readSettings({}).allowSourcePlaintext, false, 'unset: refused')
  t.equal(readSettings({ SISPORTA_SOURCE_ALLOW_PLAINTEXT: '' }).allowSourcePlaintext, false)
  t.equal(readSettings({ SISPORTA_SOURCE_ALLOW_PLAINTEXT: '0' }).allowSourcePlaintext, false)
  t.equal(readSettings({ SISPORTA_SOURCE_ALLOW_PLAINTEXT: 'false' }).allowSourcePlaintext, false)
  t.equal(readSettings({ SISPORTA_SOURCE_ALLOW_PLAINTEXT: '1' }).allowSourcePlaintext, true)
  t.equal(readSettings({ SISPORTA_SOURCE_ALLOW_PLAINTEXT: 'true' }).allowSourcePlaintext, true)
  t.equal(readSettings({ SISPORTA_ALLOW_WRITABLE_LOGIN: '1' }).allowSourcePlaintext, false, 'independent of the writable-login switch')
  t.throws(() => readSettings({ SISPORTA_SOURCE_ALLOW_PLAINTEXT: 'yes' }), { code: 'SIS_CFG_ENV', message: /SISPORTA_SOURCE_ALLOW_PLAINTEXT='yes' must be true or false/ })
})
