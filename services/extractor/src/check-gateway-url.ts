import { isIP } from 'node:net'
import { ExtractError } from './errors.js'

/**
 * Refuses to send the extractor's token in clear across a network: a gateway URL must be
 * `https://`, unless it is a loopback address (a gateway on the same machine, or a local
 * port-forward / TLS-terminating sidecar) or `SISPORTA_ALLOW_INSECURE_GATEWAY=1` says the
 * operator knows. Throws `SIS_EXTRACT_INSECURE_GATEWAY` (exit 2) otherwise.
 *
 * @example
 * checkGatewayUrl('http://127.0.0.1:8080', false)          // fine: loopback
 * checkGatewayUrl('http://gateway.example.com', false)     // throws SIS_EXTRACT_INSECURE_GATEWAY
 */
export function checkGatewayUrl (url: string, allowInsecure: boolean): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (err) {
    throw new ExtractError('SIS_EXTRACT_GATEWAY_URL', 'SISPORTA_GATEWAY_URL is not a valid URL', { cause: err, exitCode: 2 })
  }
  if (parsed.protocol === 'https:') return
  if (parsed.protocol !== 'http:') throw new ExtractError('SIS_EXTRACT_GATEWAY_URL', `SISPORTA_GATEWAY_URL must start with https:// (got ${parsed.protocol}//)`, { exitCode: 2 })
  if (isLoopback(parsed.hostname) || allowInsecure) return
  throw new ExtractError('SIS_EXTRACT_INSECURE_GATEWAY', `SISPORTA_GATEWAY_URL is plain http:// to ${parsed.hostname}, which is not this machine: the token would cross the network in clear. Use https://, or set SISPORTA_ALLOW_INSECURE_GATEWAY=1 if a trusted tunnel carries it`, { exitCode: 2 })
}

function isLoopback (hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./.test(host)
  return false
}
