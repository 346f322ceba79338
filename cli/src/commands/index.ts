import type { Command } from './command.js'
import { migrateCommand } from './migrate.js'
import { extractorCommand, gatewayCommand, persisterCommand, reconcilerCommand } from './services.js'
import { extractCommand } from './extract.js'
import { tokenCommand } from './token.js'
import { loadsCommand } from './loads.js'
import { statusCommand } from './status.js'
import { demoCommand } from '../demo/demo-command.js'

export const COMMANDS: Readonly<Record<string, Command>> = Object.freeze({
  migrate: migrateCommand,
  gateway: gatewayCommand,
  persister: persisterCommand,
  reconciler: reconcilerCommand,
  extractor: extractorCommand,
  extract: extractCommand,
  token: tokenCommand,
  loads: loadsCommand,
  status: statusCommand,
  demo: demoCommand
})
