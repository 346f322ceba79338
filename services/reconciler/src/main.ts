import { loadConfig, readSettings } from '@sisporta/config'
import { createLogger } from '@sisporta/observability'
import { runReconciler } from './run-reconciler.js'

// Wiring only: read the environment and config once, then run.
try {
  const settings = readSettings()
  const log = createLogger({ service: 'reconciler', level: settings.logLevel })
  await runReconciler(settings, loadConfig(settings.configFile), log)
} catch (err) {
  const e = err as Error & { code?: string, exitCode?: number }
  process.stderr.write(`${e.code ?? 'error'}: ${e.message}\n`)
  process.exitCode = e.exitCode ?? 1
}
