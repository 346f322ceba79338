import { getHeapStatistics } from 'node:v8'
import { readSettings, loadConfig, type Settings } from '@sisporta/config'
import type { SisportaConfig } from '@sisporta/contracts'
import { createLogger, type Logger } from '@sisporta/observability'
import type { Command } from './command.js'

type Runner = (settings: Settings, config: SisportaConfig, log: Logger) => Promise<void>

/** `sisporta gateway|persister|reconciler|extractor|console`: the service in the foreground. */
function serviceCommand (service: string, runner: () => Promise<Runner>): Command {
  return {
    async run () {
      const settings = readSettings()
      const config = loadConfig(settings.configFile)
      const log = createLogger({ service, level: settings.logLevel })
      // V8's limit (old space + young generation): about DEFAULT_HEAP_MB + 48 under the cap
      log.info({ pid: process.pid, heapLimitMb: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20) }, 'starting')
      await (await runner())(settings, config, log)
      // runService keeps the process alive until SIGTERM; the exit code is set on close.
      return 0
    }
  }
}

// Each service loads only its own package.
export const gatewayCommand = serviceCommand('gateway', async () => (await import('@sisporta/gateway')).runGateway)
export const persisterCommand = serviceCommand('persister', async () => (await import('@sisporta/persister')).runPersister)
export const reconcilerCommand = serviceCommand('reconciler', async () => (await import('@sisporta/reconciler')).runReconciler)
export const extractorCommand = serviceCommand('extractor', async () => (await import('@sisporta/extractor')).runExtractor)
export const consoleCommand = serviceCommand('console', async () => (await import('@sisporta/console')).runConsole)
