import { setTimeout as sleep } from 'node:timers/promises'
import { isFinalLoad, type LoadRecord } from '@sisporta/contracts'
import type { GatewayClient } from './gateway-client.js'
import { ExtractError } from './errors.js'

/**
 * Polls the gateway until the load reaches a final state (or `held`, which waits for an
 * operator), calling `onChange` on every state it sees. A batch the persisters dead-letter
 * fails the load at once (the reconciler watches the dead letters), so that ends the wait too.
 * `signal` stops waiting (with its reason); the load goes on without the waiter.
 */
export async function waitForLoad (gateway: GatewayClient, load: LoadRecord, options: { pollMs?: number, timeoutMs?: number, onChange?: (load: LoadRecord) => void, signal?: AbortSignal } = {}): Promise<LoadRecord> {
  const deadline = Date.now() + (options.timeoutMs ?? 6 * 3_600_000)
  const { signal } = options
  let last = load.state
  for (;;) {
    const current = await gateway.getLoad(load.stream, load.id, { signal })
    if (current.state !== last) {
      last = current.state
      options.onChange?.(current)
    }
    if (isFinalLoad(current) || current.state === 'held') return current
    if (Date.now() > deadline) {
      throw new ExtractError('SIS_EXTRACT_WAIT_TIMEOUT', `load ${load.id} of stream '${load.stream}' is still ${current.state} after waiting ${Math.round((options.timeoutMs ?? 0) / 1000)} s`)
    }
    try {
      await sleep(options.pollMs ?? 500, undefined, signal === undefined ? {} : { signal })
    } catch {
      signal?.throwIfAborted()
    }
  }
}
