import { loadConfig, readSettings } from '@sisporta/config'
import { runMain } from '@sisporta/observability'
import { runExtractor } from './run-extractor.js'

// Wiring only: settings and config are read once, here; a failed start exits with its code.
await runMain('extractor', async (logger) => {
  const settings = readSettings()
  await runExtractor(settings, loadConfig(settings.configFile), logger(settings.logLevel))
})
