import t from 'tap'
import { readSettings } from '@sisporta/config'
import { checkGatewayUrl, gatewayClientFrom } from '@sisporta/extractor'
import { createLogger } from '@sisporta/observability'

t.test('gateway url – the token never goes over plain http to another machine unless the operator allows it', async (t) => {
  for (const url of ['http://127.0.0.1:8080', 'http://127.9.9.9', 'http://localhost:8080', 'http://[::1]:8080', 'https://gateway.example.com', 'https://10.0.0.5:8443']) {
    t.doesNotThrow(() => { checkGatewayUrl(url, false) }, url)
  }
  for (const url of ['http://gateway.example.com', 'http://10.0.0.5:8080', 'http://128.0.0.1', 'http://[::2]:80', 'http://localhost.example.com']) {
    t.throws(() => { checkGatewayUrl(url, false) }, { code: 'SIS_EXTRACT_INSECURE_GATEWAY', exitCode: 2, message: /is plain http:\/\/ to .* which is not this machine/ }, url)
    t.doesNotThrow(() => { checkGatewayUrl(url, true) }, `${url} with SISPORTA_ALLOW_INSECURE_GATEWAY=1`)
  }
  t.throws(() => { checkGatewayUrl('ftp://gateway', true) }, { code: 'SIS_EXTRACT_GATEWAY_URL', exitCode: 2 })
})

t.test('gateway url – the extractor refuses an insecure gateway before sending anything, naming the setting, not the token', async (t) => {
  const log = createLogger({ service: 'extractor', level: 'silent' })
  const settings = readSettings({ SISPORTA_GATEWAY_URL: 'http://gateway.example.com:8080', SISPORTA_TOKEN: 'secret-token-value' })
  const err = t.throws(() => gatewayClientFrom(settings, log), { code: 'SIS_EXTRACT_INSECURE_GATEWAY' }) as Error
  t.notMatch(err.message, /secret-token-value/)
  t.match(err.message, /SISPORTA_ALLOW_INSECURE_GATEWAY=1/)
  t.ok(gatewayClientFrom(readSettings({ SISPORTA_GATEWAY_URL: 'http://gateway.example.com:8080', SISPORTA_TOKEN: 't', SISPORTA_ALLOW_INSECURE_GATEWAY: '1' }), log))
})
