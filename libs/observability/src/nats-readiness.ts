import type { ReadinessCheck } from './service-app.js'

/** The part of a NATS connection {@link natsReadiness} watches: a nats.js `NatsConnection` fits. */
export interface WatchedConnection {
  isClosed (): boolean
  status (): AsyncIterable<{ readonly type: string }>
}

/**
 * A `/readyz` check of a NATS connection. A client that lost its server is not closed: nats.js
 * keeps reconnecting and `isClosed()` stays false all along, so the check follows the
 * connection's status events instead — not ready from `disconnect` until `reconnect`, naming
 * since when. Call it right after connecting (a disconnect before it would go unnoticed).
 *
 * @example
 * const nats = natsReadiness(nc)
 * await createServiceApp({ log, registry, checks: { nats } })
 * // /readyz while the server is down: 503 { failing: { nats: 'NATS disconnected since 2026-…Z, reconnecting' } }
 */
export function natsReadiness (nc: WatchedConnection): ReadinessCheck {
  let disconnectedAt: Date | undefined
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') disconnectedAt ??= new Date()
      else if (s.type === 'reconnect') disconnectedAt = undefined
    }
  })().catch(() => {})
  return () => {
    if (nc.isClosed()) return 'NATS connection closed'
    if (disconnectedAt !== undefined) return `NATS disconnected since ${disconnectedAt.toISOString()}, reconnecting`
    return true
  }
}
