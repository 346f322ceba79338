import type { JetStreamManager } from 'nats'
import { freeLoopbackPort, privateNatsServer, type PrivateNatsServer } from './nats-server.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

/** One node of a {@link natsCluster}: a private nats-server with a JetStream store of its own. */
export interface NatsClusterNode extends PrivateNatsServer {
  /** Its `server_name`: what `StreamInfo.cluster.leader` and the replicas call it. */
  readonly name: string
  /** Its monitoring endpoint, `http://127.0.0.1:<port>` (`/jsz`, `/routez`). */
  readonly monitorUrl: string
}

/** A NATS cluster of private servers on loopback, JetStream on every node. */
export interface NatsCluster {
  readonly nodes: readonly NatsClusterNode[]
  /** `nats://127.0.0.1:<port>` of every node, comma-separated: what SISPORTA_NATS_URL takes. */
  readonly url: string
  /** The same as a list (nats.js `servers`). */
  readonly servers: string[]
  /** The node called `name` (a stream's leader, say); throws for an unknown name. */
  node(name: string): NatsClusterNode
  /**
   * Resolves once every running node sees the same JetStream meta leader and the leader sees
   * every other node current: the cluster can create and place replicated streams.
   */
  formed(options?: { timeoutMs?: number }): Promise<void>
  /**
   * Resolves with the stream's leader and followers once it has a leader and `replicas − 1`
   * followers, all current (caught up) and none offline.
   */
  streamReplicated(jsm: JetStreamManager, stream: string, replicas: number, options?: { timeoutMs?: number }): Promise<{ leader: NatsClusterNode, followers: NatsClusterNode[] }>
}

interface Jsz {
  meta_cluster?: { leader?: string, cluster_size?: number, replicas?: Array<{ name: string, current: boolean, offline?: boolean }> }
}

/**
 * A NATS cluster of `size` private nats-servers on loopback (see {@link privateNatsServer}), each
 * with its own JetStream store, `server_name` (`n1`, `n2`, …), cluster port and monitoring port,
 * routed to all others; started one after the other and stopped at teardown. A fault test may
 * `kill()` a node (SIGKILL) and `restart()` it on the same ports and store, then wait for the
 * events that matter (`formed()`, `streamReplicated()`) instead of sleeping.
 *
 * @example
 * const cluster = await natsCluster(t, 3)
 * await cluster.formed()
 * const nc = await connect({ servers: cluster.servers })
 */
export async function natsCluster (t: Teardown, size: number, options: { name?: string } = {}): Promise<NatsCluster> {
  if (!Number.isInteger(size) || size < 1) throw new Error(`natsCluster: size must be a positive integer, not ${size}`)
  const clusterName = options.name ?? 'sisporta_test'
  const clusterPorts: number[] = []
  for (let i = 0; i < size; i++) clusterPorts.push(await freeLoopbackPort())
  const routes = clusterPorts.map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ')
  const nodes: NatsClusterNode[] = []
  for (let i = 0; i < size; i++) {
    const name = `n${i + 1}`
    const monitorPort = await freeLoopbackPort()
    const server = await privateNatsServer(t, {
      config: [
        `server_name: ${name}`,
        `http: "127.0.0.1:${monitorPort}"`,
        // the chart's production setting; batches may be larger than the default 1 MiB
        'max_payload: 8MB',
        `cluster { name: ${clusterName}, listen: "127.0.0.1:${clusterPorts[i]!}", routes: [${routes}] }`
      ].join('\n') + '\n'
    })
    nodes.push({ ...server, name, monitorUrl: `http://127.0.0.1:${monitorPort}` })
  }
  const servers = nodes.map((n) => `nats://${n.hostPort}`)
  const node = (name: string): NatsClusterNode => {
    const found = nodes.find((n) => n.name === name)
    if (found === undefined) throw new Error(`natsCluster: no node called '${name}' (nodes: ${nodes.map((n) => n.name).join(', ')})`)
    return found
  }
  const jsz = async (n: NatsClusterNode): Promise<Jsz | undefined> => {
    try {
      const res = await fetch(`${n.monitorUrl}/jsz`, { signal: AbortSignal.timeout(2_000) })
      return res.ok ? await res.json() as Jsz : undefined
    } catch {
      // a killed node does not answer
      return undefined
    }
  }
  const until = async <T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs
    let last: unknown
    for (;;) {
      try {
        const value = await probe()
        if (value !== undefined) return value
      } catch (err) {
        last = err
      }
      if (Date.now() > deadline) throw new Error(`natsCluster: timed out waiting for ${what}${last !== undefined ? ` (last error: ${String(last)})` : ''}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return {
    nodes,
    servers,
    url: servers.join(','),
    node,
    formed: async ({ timeoutMs = 120_000 } = {}) => {
      await until(async () => {
        const views = await Promise.all(nodes.map(async (n) => await jsz(n)))
        const up = views.filter((v): v is Jsz => v !== undefined)
        const leaders = new Set(up.map((v) => v.meta_cluster?.leader ?? ''))
        if (up.length === 0 || leaders.size !== 1 || leaders.has('')) return undefined
        const leaderView = views[nodes.findIndex((n) => n.name === [...leaders][0])]
        const replicas = leaderView?.meta_cluster?.replicas ?? []
        // every running node besides the leader is known to it and caught up
        return up.length === size && replicas.length === size - 1 && replicas.every((r) => r.current && r.offline !== true) ? true : undefined
      }, `the JetStream meta leader of ${size} nodes, every node current`, timeoutMs)
    },
    streamReplicated: async (jsm, stream, replicas, { timeoutMs = 120_000 } = {}) => {
      return await until(async () => {
        const info = await jsm.streams.info(stream)
        const cluster = info.cluster
        if (cluster?.leader === undefined || cluster.leader === '') return undefined
        const peers = cluster.replicas ?? []
        if (peers.length !== replicas - 1 || !peers.every((p) => p.current && p.offline !== true)) return undefined
        return { leader: node(cluster.leader), followers: peers.map((p) => node(p.name)) }
      }, `stream ${stream}: a leader and ${replicas - 1} current followers`, timeoutMs)
    }
  }
}
