import { createDb, ensureDatabase, migrate } from '@sisporta/db'
import type { Command } from './command.js'
import { loadContext } from './context.js'

export const migrateCommand: Command = {
  async run () {
    const { settings, config } = loadContext()
    await ensureDatabase(settings.mysqlUrl)
    const db = createDb(settings.mysqlUrl, { poolSize: 1 })
    try {
      const { changes } = await migrate(db, config)
      for (const change of changes) process.stdout.write(`${change}\n`)
      process.stdout.write(changes.length === 0 ? 'migrate: everything already in place\n' : `migrate: ${changes.length} change(s)\n`)
      return 0
    } finally {
      await db.destroy()
    }
  }
}
