import { loadConfig, readSettings } from '@sisporta/config'
import { createLogger } from '@sisporta/observability'
import { runExtractor } from './run-extractor.js'

const settings = readSettings()
const log = createLogger({ service: 'extractor', level: settings.logLevel })
await runExtractor(settings, loadConfig(settings.configFile), log)
