import { loadConfig, readSettings } from '@sisporta/config'
import { createLogger } from '@sisporta/observability'
import { runGateway } from './run-gateway.js'

// Wiring only: settings and config are read once, here; everything else is runGateway's.
let log = createLogger({ service: 'gateway' })
try {
  const settings = readSettings()
  log = createLogger({ service: 'gateway', level: settings.logLevel })
  await runGateway(settings, loadConfig(settings.configFile), log)
} catch (err) {
  log.fatal({ err }, 'gateway could not start')
  process.exitCode = (err as { exitCode?: number }).exitCode ?? 1
}
