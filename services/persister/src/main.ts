import { loadConfig, readSettings } from '@sisporta/config'
import { createLogger } from '@sisporta/observability'
import { runPersister } from './run-persister.js'

// Wiring only: settings and config are read once, here; everything else is runPersister's.
let log = createLogger({ service: 'persister' })
try {
  const settings = readSettings()
  log = createLogger({ service: 'persister', level: settings.logLevel })
  await runPersister(settings, loadConfig(settings.configFile), log)
} catch (err) {
  log.fatal({ err }, 'persister could not start')
  // Exit explicitly: a shutdown hook installed before the failure would otherwise exit with 0.
  process.exit((err as { exitCode?: number }).exitCode ?? 1)
}
