import type { FastifyInstance } from 'fastify'
import { GatewayError } from './errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body exactly as received (ingestion routes only): what goes on the bus. */
    rawBody: Buffer | null
  }
}

// fatal: bytes that are not UTF-8 are refused, not replaced by U+FFFD (the persister reads the
// same bytes; values must arrive exactly). ignoreBOM keeps a BOM in the text, so JSON.parse
// refuses it here rather than the persister later.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Makes `application/json` the only body type of this (encapsulated) context, keeping the
 * received bytes beside the parsed value: a batch is forwarded byte for byte, never
 * re-serialised (re-stringifying could change number spelling or key order, and costs time).
 * Other content types get Fastify's 415.
 */
export function useRawJsonParser (app: FastifyInstance, bodyLimit: number): void {
  app.decorateRequest('rawBody', null)
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (request, body, done) => {
    const bytes = body as Buffer
    let text: string
    try {
      text = utf8.decode(bytes)
    } catch (err) {
      done(new GatewayError('SIS_GW_MALFORMED_JSON', 'the body is not valid UTF-8', { cause: err }), undefined)
      return
    }
    if (text.charCodeAt(0) === 0xfeff) {
      done(new GatewayError('SIS_GW_MALFORMED_JSON', 'the body starts with a byte-order mark; send JSON without one'), undefined)
      return
    }
    try {
      // JSON.parse never assigns prototypes (a "__proto__" key becomes an own property), and
      // the gateway only reads `columns` and `rows`; the bytes themselves go on unchanged.
      const value: unknown = JSON.parse(text)
      request.rawBody = bytes
      done(null, value)
    } catch (err) {
      done(new GatewayError('SIS_GW_MALFORMED_JSON', bytes.length === 0 ? 'the body is empty; expected a JSON object' : `the body is not valid JSON: ${(err as Error).message}`, { cause: err }), undefined)
    }
  })
}
