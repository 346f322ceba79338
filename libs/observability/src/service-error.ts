/**
 * Errors of the service shell (`SIS_SVC_*`): a port that cannot be bound, a dependency that did
 * not answer during start-up. `exitCode` is what the process exits with: 1 when the environment
 * is at fault (a port someone else holds, a server that is down), 2 when a setting must change.
 */
export class ServiceError extends Error {
  readonly code: string
  readonly exitCode: 1 | 2

  constructor (code: `SIS_SVC_${string}`, message: string, options: { cause?: unknown, exitCode?: 1 | 2 } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ServiceError'
    this.code = code
    this.exitCode = options.exitCode ?? 1
  }
}
