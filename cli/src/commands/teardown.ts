import { createInterface } from 'node:readline/promises'
import type { JetStreamManager } from 'nats'
import { readSettings } from '@sisporta/config'
import { busNames, NAMESPACE_PATTERN, type BusNames } from '@sisporta/contracts'
import { deprovisionBus } from '@sisporta/nats'
import type { Command } from './command.js'
import { cliLogger, openBus } from './context.js'
import { UsageError } from '../usage-error.js'

/** One NATS object of a namespace, as `teardown` names it. */
export interface BusObject {
  readonly kind: 'stream' | 'consumer' | 'bucket'
  readonly name: string
  /** Messages (streams, bucket) or pending batches (consumer). */
  readonly messages: number
}

/**
 * The NATS objects of exactly this namespace that exist now: looked up by their exact names
 * (never a wildcard), so a namespace `a` never reaches the objects of `a_b`.
 *
 * @example
 * await namespaceObjects(jsm, busNames('demo')) // [{ kind: 'stream', name: 'DEMO_BATCHES', messages: 0 }, …]
 */
export async function namespaceObjects (jsm: JetStreamManager, names: BusNames): Promise<BusObject[]> {
  const found: BusObject[] = []
  const stream = async (name: string): Promise<number | undefined> => {
    try {
      return (await jsm.streams.info(name)).state.messages
    } catch (err) {
      if (/stream not found/i.test((err as Error).message ?? '')) return undefined
      throw err
    }
  }
  const batches = await stream(names.batchStream)
  if (batches !== undefined) {
    found.push({ kind: 'stream', name: names.batchStream, messages: batches })
    const consumer = await jsm.consumers.info(names.batchStream, names.persisterConsumer).catch(() => undefined)
    if (consumer !== undefined) found.push({ kind: 'consumer', name: names.persisterConsumer, messages: consumer.num_pending + consumer.num_ack_pending })
  }
  const dlq = await stream(names.dlqStream)
  if (dlq !== undefined) found.push({ kind: 'stream', name: names.dlqStream, messages: dlq })
  const bucket = await stream(`KV_${names.loadsBucket}`)
  if (bucket !== undefined) found.push({ kind: 'bucket', name: names.loadsBucket, messages: bucket })
  return found
}

function describe (o: BusObject): string {
  return o.kind === 'consumer' ? `consumer ${o.name} (${o.messages} batches not yet applied)` : `${o.kind} ${o.name} (${o.messages} messages)`
}

/**
 * `sisporta teardown --namespace NAME [--yes]`: removes one namespace's JetStream streams, the
 * persisters' consumer and the load registry bucket, after confirmation — typing the namespace
 * at the prompt, or `--yes`; without a terminal `--yes` is required (exit 2). The target
 * database is left alone.
 */
export const teardownCommand: Command = {
  options: {
    namespace: { type: 'string' },
    yes: { type: 'boolean', default: false }
  },
  async run (values, positionals) {
    if (positionals.length > 0) throw new UsageError(`teardown: unexpected argument '${positionals[0]}'; usage: sisporta teardown --namespace NAME [--yes]`)
    const namespace = values.namespace
    if (typeof namespace !== 'string') throw new UsageError('teardown: --namespace NAME is required (the namespace is never taken from SISPORTA_NAMESPACE here)')
    if (!NAMESPACE_PATTERN.test(namespace)) throw new UsageError(`teardown: --namespace '${namespace}' must match ${NAMESPACE_PATTERN}`)
    if (values.yes !== true && process.stdin.isTTY !== true) {
      throw new UsageError(`teardown: not on a terminal, so nobody can confirm: add --yes to remove namespace '${namespace}'`)
    }
    const settings = readSettings()
    const names = busNames(namespace)
    const nc = await openBus(settings, cliLogger(settings))
    try {
      const jsm = await nc.jetstreamManager()
      const objects = await namespaceObjects(jsm, names)
      if (objects.length === 0) {
        process.stdout.write(`namespace '${namespace}' has nothing on this NATS: nothing removed\n`)
        return 0
      }
      if (values.yes !== true) {
        process.stdout.write(`namespace '${namespace}' on ${settings.natsUrl.replace(/\/\/[^@/]*@/, '//')} holds:\n${objects.map((o) => `  ${describe(o)}\n`).join('')}`)
        const prompt = createInterface({ input: process.stdin, output: process.stdout })
        const answer = await prompt.question(`Type the namespace (${namespace}) to remove all of it: `).finally(() => { prompt.close() })
        if (answer.trim() !== namespace) {
          process.stdout.write('not confirmed: nothing removed\n')
          return 1
        }
      }
      await deprovisionBus(nc, names)
      for (const o of objects) process.stdout.write(`removed ${describe(o)}\n`)
      return 0
    } finally {
      await nc.close()
    }
  }
}
