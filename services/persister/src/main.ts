import { loadConfig, readSettings } from '@sisporta/config'
import { runMain } from '@sisporta/observability'
import { runPersister } from './run-persister.js'

// Wiring only: settings and config are read once, here; a failed start exits with its code.
await runMain('persister', async (logger) => {
  const settings = readSettings()
  await runPersister(settings, loadConfig(settings.configFile), logger(settings.logLevel))
})
