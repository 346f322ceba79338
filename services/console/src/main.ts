import { loadConfig, readSettings } from '@sisporta/config'
import { runMain } from '@sisporta/observability'
import { runConsole } from './run-console.js'

// Wiring only: settings and config are read once, here; a failed start exits with its code.
await runMain('console', async (logger) => {
  const settings = readSettings()
  await runConsole(settings, loadConfig(settings.configFile), logger(settings.logLevel))
})
