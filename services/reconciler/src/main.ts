import { loadConfig, readSettings } from '@sisporta/config'
import { runMain } from '@sisporta/observability'
import { runReconciler } from './run-reconciler.js'

// Wiring only: settings and config are read once, here; a failed start exits with its code.
await runMain('reconciler', async (logger) => {
  const settings = readSettings()
  await runReconciler(settings, loadConfig(settings.configFile), logger(settings.logLevel))
})
