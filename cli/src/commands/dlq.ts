import type { NatsConnection, StoredMsg } from 'nats'
import { headers as natsHeaders } from 'nats'
import { readSettings } from '@sisporta/config'
import { BatchHeaders, type BusNames } from '@sisporta/contracts'
import type { Command } from './command.js'
import { cliLogger, openRegistry } from './context.js'
import { UsageError, WorkFailed } from '../usage-error.js'

interface DeadLetter {
  seq: number
  stream: string
  loadId: number
  batch: number
  rows: number
  reason: string
  deliveries: number
  time: string
}

function describe (msg: StoredMsg): DeadLetter {
  const h = msg.header
  return {
    seq: msg.seq,
    stream: h.get(BatchHeaders.Stream),
    loadId: Number(h.get(BatchHeaders.Load)),
    batch: Number(h.get(BatchHeaders.Batch)),
    rows: Number(h.get(BatchHeaders.Rows)),
    reason: h.get(BatchHeaders.Reason),
    deliveries: Number(h.get(BatchHeaders.Deliveries)),
    time: msg.time.toISOString()
  }
}

async function deadLetters (nc: NatsConnection, names: BusNames, stream?: string): Promise<DeadLetter[]> {
  const jsm = await nc.jetstreamManager()
  const info = await jsm.streams.info(names.dlqStream)
  const letters: DeadLetter[] = []
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(names.dlqStream, { seq }).catch(() => undefined)
    if (msg === undefined) continue // deleted
    const letter = describe(msg)
    if (stream === undefined || letter.stream === stream) letters.push(letter)
  }
  return letters
}

function seqOf (raw: string | undefined, action: string): number {
  const seq = Number(raw)
  if (raw === undefined || !Number.isInteger(seq) || seq < 1) throw new UsageError(`dlq ${action}: give the dead letter's number (from sisporta dlq list), e.g. sisporta dlq ${action} 3`)
  return seq
}

/**
 * `sisporta dlq list|show|replay|drop`: batches the persisters gave up on. `replay` publishes
 * the batch again as it was, while its load is still open or sealed (the persister applies
 * batches of those only; after that the next load carries the rows), `drop` deletes it for good.
 */
export const dlqCommand: Command = {
  options: {
    stream: { type: 'string' },
    json: { type: 'boolean', default: false }
  },
  async run (values, positionals) {
    const [action, raw] = positionals
    if (!['list', 'show', 'replay', 'drop'].includes(action ?? '')) throw new UsageError('usage: sisporta dlq list [--stream NAME] | show N | replay N | drop N')
    const settings = readSettings()
    const { nc, names, registry, close } = await openRegistry(settings, cliLogger(settings))
    try {
      const jsm = await nc.jetstreamManager()
      if (action === 'list') {
        const letters = await deadLetters(nc, names, typeof values.stream === 'string' ? values.stream : undefined)
        if (values.json === true) process.stdout.write(`${JSON.stringify(letters, null, 2)}\n`)
        else if (letters.length === 0) process.stdout.write('no dead letters\n')
        else for (const l of letters) process.stdout.write(`#${l.seq} ${l.time} stream ${l.stream} load ${l.loadId} batch ${l.batch} (${l.rows} rows, ${l.deliveries} deliveries): ${l.reason}\n`)
        return 0
      }
      const seq = seqOf(raw, action!)
      const msg = await jsm.streams.getMessage(names.dlqStream, { seq }).catch(() => undefined)
      if (msg === undefined) throw new WorkFailed('SIS_CLI_DLQ_UNKNOWN', `no dead letter #${seq} in ${names.dlqStream}`)
      const letter = describe(msg)
      if (action === 'show') {
        process.stdout.write(`${JSON.stringify({ ...letter, body: JSON.parse(new TextDecoder().decode(msg.data)) as unknown }, null, 2)}\n`)
        return 0
      }
      if (action === 'replay') {
        // The persister applies batches of open or sealed loads only: replaying into a load that
        // ended would just dead-letter the batch again.
        const load = (await registry.get(letter.stream, letter.loadId))?.load
        if (load === undefined || (load.state !== 'open' && load.state !== 'sealed')) {
          throw new WorkFailed('SIS_CLI_DLQ_LOAD_ENDED', `dead letter #${seq}: load ${letter.loadId} of stream '${letter.stream}' is ${load?.state ?? 'gone from the registry'}, so its batches are no longer applied. ` +
            `The next load of the stream carries these rows (sisporta extract --stream ${letter.stream}); remove the letter with \`sisporta dlq drop ${seq}\``)
        }
        const h = natsHeaders()
        for (const key of [BatchHeaders.Stream, BatchHeaders.Load, BatchHeaders.Batch, BatchHeaders.Mode, BatchHeaders.Rows]) h.set(key, msg.header.get(key))
        // A new de-duplication id: the original one may still be inside JetStream's window.
        await nc.jetstream().publish(names.batchSubject(letter.stream), msg.data, { headers: h, msgID: `${letter.stream}.${letter.loadId}.${letter.batch}.replay-${seq}` })
      }
      await jsm.streams.deleteMessage(names.dlqStream, seq)
      process.stdout.write(`dead letter #${seq} (stream ${letter.stream}, load ${letter.loadId}, batch ${letter.batch}) ${action === 'replay' ? 'replayed' : 'dropped'}\n`)
      return 0
    } finally {
      await close()
    }
  }
}
