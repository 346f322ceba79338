import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { CLI_ENTRY, cliNodeArgs, heapNodeArgs } from '@sisporta/cli'
import type { BenchEnv } from './bench-env.js'
import type { ProcessSampler } from './proc-sampler.js'
import type { ServiceSet } from './service-set.js'

export interface CliChildRun {
  readonly code: number | string
  /** `Date.now()` at the spawn (to set against the registry's timestamps). */
  readonly startedAtMs: number
  /** Wall seconds from the spawn to the exit, measured by the bench. */
  readonly seconds: number
  /** All of stdout (what `--json` commands print). */
  readonly stdout: string
  /** The last 4000 characters of stdout and stderr together, for error messages. */
  readonly tail: string
}

/**
 * Runs `sisporta <args>` as a child process with the run's environment, followed by the process
 * sampler as `label` (its pid is the one doing the work: see `heapCap`), its output written to
 * `<label>.log` in the run's directory, and timed from outside.
 *
 * `heapCap`: start it under the services' heap cap at once, as the launchers start the services.
 * Commands that put themselves under the cap (`extract`) would otherwise start themselves again,
 * and the pid sampled would be the idle parent; commands that do not (`verify`) are run as an
 * operator runs them.
 */
export async function runCliChild (env: BenchEnv, services: ServiceSet, sampler: ProcessSampler, label: string, args: readonly string[], options: { heapCap: boolean }): Promise<CliChildRun> {
  const log = createWriteStream(join(env.dir, `${label.replace(/[(#]/g, '-').replace(')', '')}.log`))
  const childEnv = { ...process.env, ...env.env }
  const nodeArgs = services.nodeArgs()
  const heap = options.heapCap ? heapNodeArgs(childEnv, nodeArgs) : []
  const startedAtMs = Date.now()
  const started = performance.now()
  const child = spawn(process.execPath, [...cliNodeArgs(), ...nodeArgs, ...heap, CLI_ENTRY, ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  sampler.track(label, child.pid!)
  let stdout = ''
  let tail = ''
  const keep = (c: Buffer): void => {
    log.write(c)
    tail = (tail + c.toString('utf8')).slice(-4000)
  }
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8'); keep(c) })
  child.stderr.on('data', keep)
  let seconds = 0
  child.once('exit', () => { seconds = (performance.now() - started) / 1000 })
  // 'close' comes after 'exit' and after the pipes are drained: all of stdout is in
  const code = await new Promise<number | string>((resolve) => child.once('close', (c, signal) => resolve(c ?? signal ?? 'unknown')))
  log.end()
  return { code, startedAtMs, seconds, stdout, tail }
}
