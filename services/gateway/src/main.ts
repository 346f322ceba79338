import { loadConfig, readSettings } from '@sisporta/config'
import { runMain } from '@sisporta/observability'
import { runGateway } from './run-gateway.js'

// Wiring only: settings and config are read once, here; a failed start exits with its code.
await runMain('gateway', async (logger) => {
  const settings = readSettings()
  await runGateway(settings, loadConfig(settings.configFile), logger(settings.logLevel))
})
