import { isUtf8 } from 'node:buffer'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GatewayError } from './errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body exactly as received (ingestion routes only): what goes on the bus. */
    rawBody: Buffer | null
    /**
     * True when `body` was parsed by the latin1 fast path (see {@link useRawJsonParser}): its
     * strings are in the `'utf8-bytes'` form (each char one byte of the text's UTF-8), not the
     * text. Verdicts on such a body go through {@link checkBody}.
     */
    bodyReadAsLatin1: boolean
  }
  interface FastifyContextConfig {
    /**
     * The route may receive its body parsed by the latin1 fast path: it reads the body's
     * strings only to check them, through {@link checkBody}, and forwards `rawBody`.
     */
    latin1Body?: boolean
  }
}

// fatal: bytes that are not UTF-8 are refused, not replaced by U+FFFD (the persister reads the
// same bytes; values must arrive exactly). ignoreBOM keeps a BOM in the text, so JSON.parse
// refuses it here rather than the persister later.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The fast path declined: the exact path decides. */
const DECLINED = Symbol('declined')

const NON_ASCII = /[^\x00-\x7f]/
const BACKSLASH = 0x5c
const LETTER_U = 0x75
const BACKSLASH_U = Buffer.from('\\u')

/**
 * Makes `application/json` the only body type of this (encapsulated) context, keeping the
 * received bytes beside the parsed value: a batch is forwarded byte for byte, never
 * re-serialised (re-stringifying could change number spelling or key order, and costs time).
 * Other content types get Fastify's 415.
 *
 * Routes with `config: { latin1Body: true }` (the batch route) take the latin1 fast path when
 * the body allows it: see {@link parseAsLatin1}. Every other route gets the exact parse.
 */
export function useRawJsonParser (app: FastifyInstance, bodyLimit: number): void {
  app.decorateRequest('rawBody', null)
  app.decorateRequest('bodyReadAsLatin1', false)
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (request, body, done) => {
    const bytes = body as Buffer
    let value: unknown = DECLINED
    try {
      if (request.routeOptions.config?.latin1Body === true) {
        value = parseAsLatin1(bytes)
        request.bodyReadAsLatin1 = value !== DECLINED
      }
      if (value === DECLINED) value = parseExactly(bytes)
    } catch (err) {
      done(err as GatewayError, undefined)
      return
    }
    request.rawBody = bytes
    done(null, value)
  })
}

/** A check of a parsed body in each string form: the same verdicts, see `createBatchChecker`. */
export interface BodyChecks<Body, Problem> {
  /** For a body whose strings are the text (the exact parse). */
  readonly text: (body: Body) => Problem | undefined
  /** For a body whose strings are the text's UTF-8 bytes (the latin1 fast path). */
  readonly utf8Bytes: (body: Body) => Problem | undefined
}

/**
 * The verdict on the request's body, in the exact parse's words. A body from the latin1 fast
 * path is checked as it is, which gives the exact parse's verdict; only when that is a
 * problem is the body parsed exactly and checked again, for a message that quotes the text
 * rather than its bytes (`unknown column 'código'`, not `'cÃ³digo'`). That second verdict is
 * the answer, so a refusal is always the exact parse's.
 */
export function checkBody<Body, Problem> (request: FastifyRequest, checks: BodyChecks<Body, Problem>): Problem | undefined {
  if (!request.bodyReadAsLatin1) return checks.text(request.body as Body)
  if (checks.utf8Bytes(request.body as Body) === undefined) return undefined
  return checks.text(parseExactly(request.rawBody!) as Body)
}

/** The reference parse: UTF-8 decoded (refusing invalid bytes and a BOM), then JSON.parse. */
function parseExactly (bytes: Buffer): unknown {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch (err) {
    throw new GatewayError('SIS_GW_MALFORMED_JSON', 'the body is not valid UTF-8', { cause: err })
  }
  if (text.charCodeAt(0) === 0xfeff) {
    throw new GatewayError('SIS_GW_MALFORMED_JSON', 'the body starts with a byte-order mark; send JSON without one')
  }
  try {
    // JSON.parse never assigns prototypes (a "__proto__" key becomes an own property), and
    // the gateway only reads `columns` and `rows`; the bytes themselves go on unchanged.
    return JSON.parse(text)
  } catch (err) {
    throw new GatewayError('SIS_GW_MALFORMED_JSON', bytes.length === 0 ? 'the body is empty; expected a JSON object' : `the body is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * The latin1 fast path, for batch bodies (hundreds of KB of text with accents): decoding UTF-8
 * into a two-byte string, parsing it and collecting it was about half the gateway's CPU.
 * Instead the bytes are validated as UTF-8 (`isUtf8`: no string is made) and parsed read as
 * latin1, one byte one character: a one-byte string, cheaper to make, parse and collect.
 *
 * Taken only when the body is valid UTF-8 without a BOM and has no `\u` escape; then parsing
 * its latin1 reading gives what the exact parse gives, except that every string holds its
 * text's UTF-8 bytes (the `'utf8-bytes'` form), which the batch check judges alike:
 * - The grammar verdict is the same. Every JSON token outside strings is ASCII, and every byte
 *   of a multibyte UTF-8 character is ≥ 0x80, so never `"`, `\`, or a control character: such
 *   bytes are allowed inside a JSON string (as U+0080–U+00FF) exactly where the characters
 *   they encode are, and refused outside strings in both readings.
 * - Numbers, booleans, null, and the shape of arrays and objects are identical.
 * - A string's escapes other than `\u` (`\n`, `\"`, `\\`…) yield the same ASCII character in
 *   both readings, and each raw character above U+007F yields its 2 to 4 UTF-8 bytes in the
 *   latin1 reading. A string that is ASCII in one reading is identical in the other.
 * - The text's strings are well-formed (valid UTF-8 encodes no surrogate, and with no `\u`
 *   none can be written), as any string of chars below U+0100 is; its code points are the
 *   UTF-8 bytes that are not continuation bytes, which is how the `'utf8-bytes'` check counts
 *   them: a string at its length limit is accepted without a second parse.
 * `\u` escapes are declined because they break that last point: `"\u00c3\u00a9"` and `"é"`
 * would read the same, a lone `\ud800` would be a surrogate among bytes. They are rare (JSON
 * serialisers write them for control characters and lone surrogates only).
 *
 * Object keys and `columns` names must also be ASCII, hence identical in both readings: the
 * route's schema limits the length of column names and quotes unexpected keys, and names
 * are matched against the config's.
 *
 * Anything else declines (invalid UTF-8, a BOM, a JSON syntax error, a non-object, a `\u`
 * escape, a non-ASCII name), and the exact parse answers as before.
 */
function parseAsLatin1 (bytes: Buffer): unknown {
  if (!isUtf8(bytes)) return DECLINED
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return DECLINED
  if (hasUnicodeEscape(bytes)) return DECLINED
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('latin1'))
  } catch {
    return DECLINED
  }
  return namesAreAscii(value) ? value : DECLINED
}

/**
 * Whether the JSON text has a `\u` escape. Usually settled by one search; a `\u` found may be
 * an escaped backslash followed by `u` (`"C:\\users"`), so then the escapes are walked: each
 * backslash starts a two-character escape or `\u`. (Backslashes outside strings are a syntax
 * error, declined anyway; UTF-8 continuation bytes are never 0x5C.)
 */
function hasUnicodeEscape (bytes: Buffer): boolean {
  if (bytes.indexOf(BACKSLASH_U) === -1) return false
  for (let i = bytes.indexOf(BACKSLASH); i !== -1; i = bytes.indexOf(BACKSLASH, i + 2)) {
    if (bytes[i + 1] === LETTER_U) return true
  }
  return false
}

/** Whether `value` is an object whose keys, and the strings of whose `columns` array, are ASCII. */
function namesAreAscii (value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  for (const key of Object.keys(value)) if (NON_ASCII.test(key)) return false
  const columns = (value as { columns?: unknown }).columns
  if (Array.isArray(columns)) {
    for (const name of columns) if (typeof name === 'string' && NON_ASCII.test(name)) return false
  }
  return true
}
