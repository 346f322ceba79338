/** Errors of the configuration: always exit code 2 (bad usage or configuration). */
export class ConfigError extends Error {
  readonly code: string
  readonly exitCode = 2
  constructor (code: `SIS_CFG_${string}`, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ConfigError'
    this.code = code
  }
}
