import { requireSetting } from '@sisporta/config'
import { createDb, ensureDatabase, migrate } from '@sisporta/db'
import type { Command } from './command.js'
import { loadContext } from './context.js'

export const migrateCommand: Command = {
  async run () {
    const { settings, config } = loadContext()
    const mysqlUrl = requireSetting(settings.mysqlUrl, 'SISPORTA_MYSQL_URL')
    await ensureDatabase(mysqlUrl)
    const db = createDb(mysqlUrl, { poolSize: 1 })
    try {
      const { changes, warnings } = await migrate(db, config)
      for (const change of changes) process.stdout.write(`${change}\n`)
      // columns that cannot hold every value sisporta may send: batches with such values will be dead letters
      for (const warning of warnings) process.stderr.write(`migrate: warning: ${warning}\n`)
      process.stdout.write(changes.length === 0 ? 'migrate: everything already in place\n' : `migrate: ${changes.length} change(s)\n`)
      return 0
    } finally {
      await db.destroy()
    }
  }
}
