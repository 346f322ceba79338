import { join } from 'node:path'
import { mkdirSync } from 'node:fs'
import { launchService, type RunningService } from '@sisporta/cli'
import type { BenchEnv } from './bench-env.js'
import type { ProcessSampler } from './proc-sampler.js'
import { scrape, type PromSample } from './prom-text.js'

export type ServiceName = 'gateway' | 'persister' | 'reconciler'

/**
 * The long-running services of a bench run as separate processes (`launchService`), each
 * followed by the process sampler under a label (`gateway`, `persister#1`, `persister#2`, …).
 */
export class ServiceSet {
  readonly #env: BenchEnv
  readonly #sampler: ProcessSampler
  readonly #running = new Map<string, RunningService>()
  readonly #profileDir: string | undefined
  /** Exit code (or signal) of every service stopped so far, by label. */
  readonly exits: Record<string, number | string> = {}

  constructor (env: BenchEnv, sampler: ProcessSampler, options: { profileDir?: string } = {}) {
    this.#env = env
    this.#sampler = sampler
    this.#profileDir = options.profileDir
  }

  /**
   * Node flags for a process of the run: when profiling, `--cpu-prof` into the profile
   * directory (Node writes `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile` as the process
   * exits, on SIGTERM too since the services exit cleanly).
   */
  nodeArgs (): string[] {
    if (this.#profileDir === undefined) return []
    mkdirSync(this.#profileDir, { recursive: true })
    return ['--cpu-prof', `--cpu-prof-dir=${this.#profileDir}`]
  }

  async start (name: ServiceName, label: string = name): Promise<RunningService> {
    const service = await launchService(name, this.#env.env, join(this.#env.dir, `${label.replace('#', '-')}.log`), { readyTimeoutMs: 60_000, nodeArgs: this.nodeArgs() })
    this.#running.set(label, service)
    this.#sampler.track(label, service.process.pid!)
    if (name === 'gateway') this.#env.env.SISPORTA_GATEWAY_URL = service.url
    return service
  }

  /** Labels of the running services of one kind (all when `name` is undefined). */
  labels (name?: ServiceName): string[] {
    return [...this.#running.keys()].filter((label) => name === undefined || label === name || label.startsWith(`${name}#`))
  }

  get (label: string): RunningService | undefined {
    return this.#running.get(label)
  }

  /** SIGTERM and wait for a clean exit (its last CPU reading is taken just before). */
  async stop (label: string): Promise<void> {
    const service = this.#running.get(label)
    if (service === undefined) return
    this.#sampler.sampleNow()
    this.exits[label] = await service.stop(30_000)
    this.#running.delete(label)
  }

  async stopAll (name?: ServiceName): Promise<void> {
    await Promise.all(this.labels(name).map(async (label) => { await this.stop(label) }))
  }

  /** `/metrics` of every running service, by label. */
  async scrapeAll (): Promise<Map<string, PromSample[]>> {
    const entries = await Promise.all([...this.#running].map(async ([label, s]) => [label, await scrape(s.url)] as const))
    return new Map(entries)
  }
}
