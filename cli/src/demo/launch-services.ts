import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { SERVICE_COMMANDS, heapNodeArgs } from '../heap-cap.js'

const runningSource = import.meta.url.endsWith('.ts')
/**
 * `SISPORTA_CLI_DIST=1`: child processes run the built CLI (`cli/dist`, from `pnpm build`) even
 * when this process runs the TypeScript sources. `pnpm test` builds first and sets it: a process
 * under tsx spends about 0.7 s more CPU starting, and the end-to-end tests start hundreds.
 */
const childrenFromDist = runningSource && process.env.SISPORTA_CLI_DIST === '1'

/** The CLI entry child processes run (TypeScript source in development, dist in images and with `SISPORTA_CLI_DIST=1`). */
export const CLI_ENTRY = fileURLToPath(new URL(!runningSource ? '../main.js' : childrenFromDist ? '../../dist/main.js' : '../main.ts', import.meta.url))

/** Node flags that let a child process run {@link CLI_ENTRY} (tsx for the TypeScript sources). */
export function cliNodeArgs (): string[] {
  return runningSource && !childrenFromDist ? ['--conditions=sisporta-src', '--import=tsx'] : []
}

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `sisporta <args>` as a separate process with `env` added to this one's; resolves once it exits. */
export async function runSisporta (args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const childEnv = { ...process.env, ...env }
  // a service under the heap cap from the start: it need not start itself again
  const heap = SERVICE_COMMANDS.has(args[0] ?? '') ? heapNodeArgs(childEnv) : []
  const child = spawn(process.execPath, [...cliNodeArgs(), ...heap, CLI_ENTRY, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (c: Buffer) => { stdout += c.toString('utf8') })
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString('utf8') })
  const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)))
  return { code, stdout, stderr }
}

/** A free TCP port on the loopback interface. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface RunningService {
  readonly name: string
  readonly port: number
  readonly url: string
  readonly process: ChildProcess
  /** Resolves with the exit code (or signal name) once the process ended. */
  readonly exited: Promise<number | string>
  /** SIGTERM, then wait for a clean exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | string>
  /** SIGKILL: the crash the fault tests simulate. */
  kill(): Promise<number | string>
}

/**
 * Starts `sisporta <name>` as a separate process with the given environment, its JSON logs
 * appended to `logFile`, and waits until its `/readyz` answers 200.
 *
 * @example
 * const gateway = await launchService('gateway', { ...env, SISPORTA_HTTP_PORT: '18080' }, '/tmp/gateway.log')
 */
export async function launchService (name: string, env: Record<string, string>, logFile: string, options: { readyTimeoutMs?: number, args?: string[], nodeArgs?: string[] } = {}): Promise<RunningService> {
  const port = Number(env.SISPORTA_HTTP_PORT ?? await freePort())
  const log = createWriteStream(logFile, { flags: 'a' })
  const childEnv = { ...process.env, ...env, SISPORTA_HTTP_PORT: String(port), SISPORTA_HTTP_HOST: '127.0.0.1' }
  // under the heap cap from the start (the flag, not a second start): its pid is the service's
  const nodeArgs = [...(options.nodeArgs ?? []), ...heapNodeArgs(childEnv, options.nodeArgs)]
  const child = spawn(process.execPath, [...cliNodeArgs(), ...nodeArgs, CLI_ENTRY, name, ...(options.args ?? [])], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child.stdout!.pipe(log, { end: false })
  child.stderr!.pipe(log, { end: false })
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000)
  let ended: number | string | undefined
  void exited.then((code) => { ended = code })
  for (;;) {
    if (ended !== undefined) throw new Error(`${name} exited with ${ended} before it was ready; see ${logFile}`)
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) })
      if (res.status === 200) break
    } catch {}
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${name} was not ready after ${options.readyTimeoutMs ?? 30_000} ms; see ${logFile}`)
    }
    await sleep(150)
  }
  const stopWith = async (signal: NodeJS.Signals, graceMs: number): Promise<number | string> => {
    if (ended === undefined) child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    const code = await exited
    clearTimeout(timer)
    log.end()
    return code
  }
  return {
    name,
    port,
    url,
    process: child,
    exited,
    stop: async (graceMs = 30_000) => await stopWith('SIGTERM', graceMs),
    kill: async () => await stopWith('SIGKILL', 5_000)
  }
}
