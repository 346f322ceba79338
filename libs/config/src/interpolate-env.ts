import { ConfigError } from './errors.js'

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/**
 * Replaces `${VAR}` (and `${VAR:-default}`) in the raw text of a config file. A variable that
 * is not set and has no default is an error naming the variable, the file and the line, so a
 * missing secret is caught at start-up instead of being loaded as an empty string.
 *
 * @example
 * interpolateEnv('table: ${TBL:-products}', {}, 'sisporta.yaml') // 'table: products'
 */
export function interpolateEnv (text: string, env: Record<string, string | undefined>, file: string): string {
  return text.split('\n').map((line, index) => {
    if (/^\s*#/.test(line)) return line
    return line.replace(VAR, (_match, name: string, fallback: string | undefined) => {
      const value = env[name]
      if (value !== undefined) return value
      if (fallback !== undefined) return fallback
      throw new ConfigError('SIS_CFG_ENV_MISSING', `${file}:${index + 1}: environment variable ${name} is not set (used as \${${name}})`)
    })
  }).join('\n')
}
