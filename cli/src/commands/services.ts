import { runGateway } from '@sisporta/gateway'
import { runPersister } from '@sisporta/persister'
import { runReconciler } from '@sisporta/reconciler'
import { runExtractor } from '@sisporta/extractor'
import { readSettings, loadConfig } from '@sisporta/config'
import { createLogger } from '@sisporta/observability'
import type { Command } from './command.js'

type Runner = typeof runGateway

/** `sisporta gateway|persister|reconciler|extractor`: the service in the foreground. */
function serviceCommand (service: string, runner: Runner): Command {
  return {
    async run () {
      const settings = readSettings()
      const config = loadConfig(settings.configFile)
      const log = createLogger({ service, level: settings.logLevel })
      await runner(settings, config, log)
      // runService keeps the process alive until SIGTERM; the exit code is set on close.
      return 0
    }
  }
}

export const gatewayCommand = serviceCommand('gateway', runGateway)
export const persisterCommand = serviceCommand('persister', runPersister)
export const reconcilerCommand = serviceCommand('reconciler', runReconciler)
export const extractorCommand = serviceCommand('extractor', runExtractor)
