import { readSettings, loadConfig } from '@sisporta/config'
import type { Command } from './command.js'
import { cliLogger, openRegistry } from './context.js'
import { describeLoad } from './describe-load.js'
import { lastSuccess } from './load-history.js'

/**
 * `sisporta status [--json]`: per stream, the last loads and their states and the dead letters;
 * for the bus, the persisters' backlog (pending, in flight, redelivered).
 */
export const statusCommand: Command = {
  options: { json: { type: 'boolean', default: false } },
  async run (values) {
    const settings = readSettings()
    const config = loadConfig(settings.configFile)
    const log = cliLogger(settings)
    const { nc, names, registry, close } = await openRegistry(settings, log)
    try {
      const jsm = await nc.jetstreamManager()
      const consumer = await jsm.consumers.info(names.batchStream, names.persisterConsumer)
      const dlq = await jsm.streams.info(names.dlqStream, { subjects_filter: names.dlqSubjects })
      const dlqBySubject = dlq.state.subjects ?? {}
      const streams = []
      const now = Date.now()
      for (const stream of config.streams) {
        const loads = await registry.list({ stream: stream.name })
        const success = lastSuccess(loads, now)
        streams.push({
          name: stream.name,
          target: stream.target.table,
          // the newest reconciled full load or applied incremental one; null: never
          lastSuccess: success === undefined ? null : { loadId: success.load.id, mode: success.load.mode, at: success.at, ageSeconds: Math.round(success.ageMs / 1000), age: success.age },
          lastLoads: loads.slice(-3).reverse(),
          deadLetters: dlqBySubject[names.dlqSubject(stream.name)] ?? 0
        })
      }
      const status = {
        namespace: settings.namespace,
        persister: {
          pending: consumer.num_pending,
          ackPending: consumer.num_ack_pending,
          redelivered: consumer.num_redelivered,
          waiting: consumer.num_waiting
        },
        streams
      }
      if (values.json === true) {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`)
        return 0
      }
      process.stdout.write(`namespace ${status.namespace} · persister backlog: ${status.persister.pending} pending, ${status.persister.ackPending} in flight, ${status.persister.redelivered} redelivered\n`)
      for (const s of streams) {
        const success = s.lastSuccess === null ? 'never' : `${s.lastSuccess.age} (load ${s.lastSuccess.loadId}, ${s.lastSuccess.mode}, ${s.lastSuccess.at})`
        process.stdout.write(`\n${s.name} → ${s.target} · last success: ${success}${s.deadLetters > 0 ? ` · ${s.deadLetters} dead letter(s): sisporta dlq list` : ''}\n`)
        if (s.lastLoads.length === 0) process.stdout.write('  no loads yet\n')
        for (const load of s.lastLoads) process.stdout.write(`  ${describeLoad(load)}${load.reason !== undefined ? ` — ${load.reason}` : ''}\n`)
      }
      return 0
    } finally {
      await close()
    }
  }
}
