import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { getHeapStatistics } from 'node:v8'
import { heapCapMb } from '@sisporta/config'

/**
 * The commands that run under the heap cap: the services in the foreground, and `extract` and
 * `verify`, which are the extractor's work done once (they read a whole table, as the daemon does).
 */
export const SERVICE_COMMANDS: ReadonlySet<string> = new Set(['gateway', 'persister', 'reconciler', 'extractor', 'console', 'extract', 'verify'])

/** Set in the child of the spawn fallback of {@link runUnderHeapCap}: it dies with its parent. */
const PARENT_MARK = 'SISPORTA_HEAP_PARENT'

/** Signals the spawn fallback passes on to its child. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP']

/**
 * Whether node flags (`process.execArgv`, or the text of `NODE_OPTIONS`) set the old-space
 * size; V8 reads `_` and `-` alike.
 *
 * @example
 * setsHeapSize(['--max-old-space-size=256']) // true
 * setsHeapSize('--enable-source-maps --max_old_space_size=96') // true
 * setsHeapSize('') // false
 */
export function setsHeapSize (flags: readonly string[] | string | undefined): boolean {
  const list = typeof flags === 'string' ? flags.split(/\s+/) : flags ?? []
  return list.some((flag) => /^--max[-_]old[-_]space[-_]size(=|$)/.test(flag))
}

/** What {@link heapPlan} decided: run as is, or run again with `flag`. */
export type HeapPlan =
  | { readonly action: 'run', readonly why: string }
  | { readonly action: 'reexec', readonly flag: string }

/**
 * Whether a service process must start again under the heap cap ({@link heapCapMb}): only when
 * the cap is on (`SISPORTA_HEAP_MB` not 0), neither `NODE_OPTIONS` nor the node flags set the
 * old-space size already (an operator's choice wins, and a process started again has the flag:
 * never twice), and V8's limit is above the cap.
 *
 * @example
 * heapPlan({ env: {}, execArgv: [], heapLimitBytes: 4144 * 2 ** 20 }) // { action: 'reexec', flag: '--max-old-space-size=128' }
 * heapPlan({ env: { SISPORTA_HEAP_MB: '0' }, execArgv: [], heapLimitBytes: 4144 * 2 ** 20 }) // { action: 'run', why: 'SISPORTA_HEAP_MB=0' }
 */
export function heapPlan (options: { env: Record<string, string | undefined>, execArgv: readonly string[], heapLimitBytes: number }): HeapPlan {
  const cap = heapCapMb(options.env)
  if (cap === 0) return { action: 'run', why: 'SISPORTA_HEAP_MB=0' }
  if (setsHeapSize(options.execArgv)) return { action: 'run', why: 'node flags set the heap size' }
  if (setsHeapSize(options.env.NODE_OPTIONS)) return { action: 'run', why: 'NODE_OPTIONS sets the heap size' }
  if (options.heapLimitBytes <= cap * 2 ** 20) return { action: 'run', why: `V8's heap limit is within ${cap} MB already` }
  return { action: 'reexec', flag: `--max-old-space-size=${cap}` }
}

/**
 * The node flags a launcher adds to start `sisporta <service>` under the heap cap at once, so
 * that the service need not start itself again (same process id: signals and kills reach it):
 * `--max-old-space-size=<cap>`, or nothing when the child's `NODE_OPTIONS` or `nodeArgs` set
 * the size, or `SISPORTA_HEAP_MB` is 0 (or invalid: the service then says so itself).
 *
 * @example
 * spawn(process.execPath, [...heapNodeArgs(env), CLI_ENTRY, 'gateway'], { env })
 */
export function heapNodeArgs (env: Record<string, string | undefined>, nodeArgs: readonly string[] = []): string[] {
  let cap: number
  try {
    cap = heapCapMb(env)
  } catch {
    return []
  }
  if (cap === 0 || setsHeapSize(nodeArgs) || setsHeapSize(env.NODE_OPTIONS)) return []
  return [`--max-old-space-size=${cap}`]
}

/**
 * Puts this process (a `sisporta <service>`) under the heap cap. When {@link heapPlan} says so it
 * starts the same command again with `--max-old-space-size=<cap>`:
 *
 * - with `process.execve` (Node ≥ 22.15 on Linux and macOS) in place of this process: same
 *   process id, so signals, exit codes, tini and Kubernetes see no difference; never returns;
 * - otherwise as a child with the same stdio in a process group of its own (a Ctrl-C reaches it
 *   once, through this process): SIGTERM, SIGINT and SIGHUP are passed on, its exit code becomes
 *   this process's (128 + the signal's number when a signal ended it), and it kills itself at
 *   once should this process die first.
 *
 * Resolves with the exit code when a child ran, `undefined` when this process is to run the
 * service itself.
 *
 * @example
 * const code = await runUnderHeapCap()
 * if (code !== undefined) return code
 */
export async function runUnderHeapCap (): Promise<number | undefined> {
  if (process.env[PARENT_MARK] !== undefined) {
    dieWithParent()
    return undefined
  }
  const plan = heapPlan({ env: process.env, execArgv: process.execArgv, heapLimitBytes: getHeapStatistics().heap_size_limit })
  if (plan.action === 'run') return undefined
  const args = [...process.execArgv, plan.flag, ...process.argv.slice(1)]
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve
  if (typeof execve === 'function') {
    try {
      execve.call(process, process.execPath, [process.execPath, ...args], process.env)
    } catch {
      // execve(2) failed and this process is unchanged: a child then
    }
  }
  return await runChild(args)
}

/** The spawn fallback of {@link runUnderHeapCap}. */
async function runChild (args: string[]): Promise<number> {
  const child = spawn(process.execPath, args, {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [PARENT_MARK]: String(process.pid) },
    detached: true
  })
  const forward = (signal: NodeJS.Signals): void => { child.kill(signal) }
  for (const signal of FORWARDED) process.on(signal, forward)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (c, s) => resolve([c, s]))
  })
  for (const s of FORWARDED) process.off(s, forward)
  // ended by a signal it did not handle: the shell's convention, 128 + the signal's number
  return signal !== null ? 128 + (constants.signals[signal] ?? 0) : code ?? 1
}

/** In the child of the spawn fallback: no child of a dead `sisporta` keeps running. */
function dieWithParent (): void {
  delete process.env[PARENT_MARK]
  const channel = process.channel
  if (channel === undefined) return
  channel.unref()
  // the IPC channel closes when the parent ends, whatever ended it (SIGKILL included)
  process.once('disconnect', () => { process.kill(process.pid, 'SIGKILL') })
}
