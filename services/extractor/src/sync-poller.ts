import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import type { SisportaConfig, SyncRequest } from '@sisporta/contracts'
import type { Worker } from '@sisporta/observability'
import type { GatewayClient } from './gateway-client.js'
import { ExtractError } from './errors.js'

export interface SyncPollerDeps {
  readonly config: SisportaConfig
  readonly gateway: Pick<GatewayClient, 'syncRequests'>
  /** Starts a full load of the stream now unless one is in progress (the scheduler's `runNow`). */
  readonly runNow: (stream: string) => boolean
  /**
   * Starts serving a verify request now unless a load or a verify of the stream is in progress
   * (`false`); without it, verify requests are not asked for (the scheduler's `runExclusive`
   * around `serveVerifyRequest`).
   */
  readonly verifyNow?: (request: SyncRequest) => boolean
  readonly log: Logger
  readonly metrics: Registry
  /** Time between two questions to the gateway (ms). */
  readonly intervalMs: number
}

/**
 * The extractor daemon's side of "sync now" (`sisporta streams sync NAME`, the console's button):
 * every `intervalMs` it asks the gateway for the pending requests of the streams its token may
 * load (`GET /v1/sync-requests`; paused streams are left out there) and starts a full load of
 * each through the scheduler — so never two loads of one stream at once, parents first.
 *
 * A request stays pending until a load of the stream is opened after it. A request whose load
 * could not even open (the source unreachable, say) is not tried again at every poll: each
 * request (`requestedAt`) is started once; a newer request starts a new load. A stream the
 * daemon's configuration does not know is reported once and left alone. A gateway without the
 * route (404) stops the polling with one warning: it is older than the daemon.
 *
 * With `verifyNow`, the daemon also asks for verify requests (`kind: 'verify'`, `sisporta
 * streams verify NAME`) and starts each once, like a load: never beside a load or another verify
 * of the same stream (the scheduler keeps them apart); one that cannot start now is seen again
 * at the next poll. The report it posts ends the request.
 *
 * @example
 * const poller = createSyncPoller({ config, gateway, runNow: scheduler.runNow, log, metrics, intervalMs: 15_000 })
 * await poller.start()
 */
export function createSyncPoller (deps: SyncPollerDeps): Worker & { poll(): Promise<void> } {
  const controller = new AbortController()
  const { signal } = controller
  /** requestedAt of the request last started, per kind and stream ('load products'). */
  const started = new Map<string, string>()
  const unknown = new Set<string>()
  let loop: Promise<void> = Promise.resolve()
  const served = new Counter({ name: 'sisporta_extractor_sync_requests_total', help: 'Loads started by the extractor daemon for an operator\'s "sync now" request', labelNames: ['stream'], registers: [deps.metrics] })
  const verified = new Counter({ name: 'sisporta_extractor_verify_requests_total', help: 'Verifies started by the extractor daemon for an operator\'s verify request', labelNames: ['stream'], registers: [deps.metrics] })

  function startFor (request: SyncRequest): void {
    const { stream, requestedAt, requestedBy } = request
    const verify = request.kind === 'verify'
    if (verify && deps.verifyNow === undefined) return
    const startedKey = `${verify ? 'verify' : 'load'} ${stream}`
    if (started.get(startedKey) === requestedAt) return
    if (deps.config.stream(stream) === undefined) {
      if (!unknown.has(stream)) deps.log.warn({ stream, requestedBy }, 'a sync request names a stream this extractor\'s configuration does not have; ignored')
      unknown.add(stream)
      return
    }
    if (verify) {
      // a load or a verify of the stream in progress: the request stays pending, the next poll sees it again
      if (!deps.verifyNow!(request)) return
      started.set(startedKey, requestedAt)
      verified.inc({ stream })
      deps.log.info({ stream, requestedAt, requestedBy }, 'verify requested: verify started')
      return
    }
    // a load of the stream in progress: the request stays pending, the next poll sees it again
    if (!deps.runNow(stream)) return
    started.set(startedKey, requestedAt)
    served.inc({ stream })
    deps.log.info({ stream, requestedAt, requestedBy }, 'sync requested: full load started')
  }

  async function poll (): Promise<void> {
    const requests = await deps.gateway.syncRequests({ signal, maxAttempts: 1, verify: deps.verifyNow !== undefined })
    for (const request of requests) startFor(request)
  }

  async function run (): Promise<void> {
    while (!signal.aborted) {
      try {
        await poll()
      } catch (err) {
        if (signal.aborted) return
        if (err instanceof ExtractError && err.gatewayCode === 'SIS_GW_ROUTE_UNKNOWN') {
          deps.log.warn({ err: err.message }, 'the gateway has no sync-request route (it is older than this extractor): "sync now" is not polled')
          return
        }
        deps.log.warn({ err: (err as Error).message }, 'could not read the sync requests from the gateway; asking again later')
      }
      await sleep(deps.intervalMs, undefined, { signal }).catch(() => {})
    }
  }

  return {
    name: 'extractor-sync-poller',
    poll,
    async start () { loop = run() },
    async stop () {
      controller.abort()
      await loop
    }
  }
}
