import { Registry, collectDefaultMetrics } from 'prom-client'

/**
 * A Prometheus registry for one service, with Node's process metrics (RSS, CPU, event-loop
 * lag, GC) under the `sisporta_` prefix and a `service` label. Each service registers its own
 * counters and histograms on it.
 */
export function createMetricsRegistry (service: string): Registry {
  const registry = new Registry()
  registry.setDefaultLabels({ service })
  collectDefaultMetrics({ register: registry, prefix: 'sisporta_' })
  return registry
}
