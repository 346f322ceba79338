/** Bad usage of the command line: exit code 2. */
export class UsageError extends Error {
  readonly code = 'SIS_CLI_USAGE'
  readonly exitCode = 2
  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** The work failed (a held load, a failed load): exit code 1, message says why. */
export class WorkFailed extends Error {
  readonly code: string
  readonly exitCode = 1
  constructor (code: `SIS_CLI_${string}`, message: string) {
    super(message)
    this.name = 'WorkFailed'
    this.code = code
  }
}

/** Exit code for any error: its own `exitCode` when it has one (config and usage: 2), else 1. */
export function exitCodeOf (err: unknown): number {
  const code = (err as { exitCode?: unknown } | undefined)?.exitCode
  return code === 1 || code === 2 ? code : 1
}
