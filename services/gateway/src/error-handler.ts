import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { ErrorReply } from '@sisporta/contracts'
import { GatewayError, errorReply } from './errors.js'
import type { GatewayMetrics } from './gateway-metrics.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Marks the batch route: its errors count as rejected batches. */
    batchRoute?: boolean
  }
}

interface AjvIssue {
  instancePath?: string
  message?: string
}

/**
 * Turns any error into a coded {@link ErrorReply}: catalogue errors as they are; Fastify's own
 * request errors (body too large, wrong content type, schema validation) into their
 * `SIS_GW_*` equivalents with a reason; anything else into a 500 that says nothing about
 * internals (the log has the details). A bad request is never answered with a 5xx.
 */
export function toGatewayError (err: FastifyError | Error, bodyLimit: number, contentType?: string): GatewayError | undefined {
  if (err instanceof GatewayError) return err
  const e = err as FastifyError & { validation?: AjvIssue[], validationContext?: string }
  if (Array.isArray(e.validation)) {
    const first = e.validation[0]
    return new GatewayError('SIS_GW_INVALID_REQUEST', `${e.validationContext ?? 'request'}${first?.instancePath ?? ''}: ${first?.message ?? e.message}`)
  }
  if (e.name === 'NatsError') {
    // The load registry (JetStream KV) did not answer: nothing was changed, the client retries.
    return new GatewayError('SIS_GW_BUS_UNAVAILABLE', `the load registry is unavailable (${e.code}): retry`, { cause: err })
  }
  switch (e.code) {
    case 'SIS_BUS_LOAD_UNKNOWN':
      return new GatewayError('SIS_GW_LOAD_UNKNOWN', e.message, { cause: err })
    case 'SIS_BUS_LOAD_STATE':
      return new GatewayError('SIS_GW_LOAD_NOT_OPEN', e.message, { cause: err })
    case 'SIS_BUS_LOAD_UNTRUSTED':
      return new GatewayError('SIS_GW_LOAD_UNTRUSTED', e.message, { cause: err })
    case 'SIS_BUS_CONTENTION':
    case 'SIS_BUS_SEQUENCE':
      return new GatewayError('SIS_GW_BUSY', `${e.message}: retry`, { cause: err })
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('SIS_GW_BODY_TOO_LARGE', `the body is larger than the limit of ${bodyLimit} bytes: send fewer rows per batch`)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
    case 'FST_ERR_CTP_EMPTY_TYPE':
      return new GatewayError('SIS_GW_UNSUPPORTED_MEDIA_TYPE', `Content-Type ${contentType === undefined ? '(none)' : `'${contentType.slice(0, 100)}'`} is not supported; send Content-Type: application/json`)
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new GatewayError('SIS_GW_MALFORMED_JSON', e.message)
  }
  return undefined
}

/** The gateway's `setErrorHandler` function. */
export function createErrorHandler (options: { bodyLimit: number, metrics: GatewayMetrics }) {
  return function gatewayErrorHandler (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
    const known = toGatewayError(err, options.bodyLimit, request.headers['content-type'])
    let body: ErrorReply
    if (known !== undefined) {
      body = known.toReply()
      if (known.retryAfterSec !== undefined) void reply.header('Retry-After', String(known.retryAfterSec))
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      // Another client error raised by Fastify (e.g. a malformed Content-Length): its status and
      // message are about the request, not about us.
      body = errorReply(err.statusCode, 'SIS_GW_BAD_REQUEST', err.message)
    } else {
      request.log.error({ err }, 'unexpected error')
      body = errorReply(500, 'SIS_GW_INTERNAL', `internal error (request ${request.id}); the gateway's log has the details`)
    }
    const batchRoute = request.routeOptions.config?.batchRoute === true
    if (body.code !== 'SIS_GW_INTERNAL') {
      // A refused batch means a misbehaving extractor or a config out of step, a refused token
      // (401, 403) a misconfigured client or someone probing: each worth a warning.
      const level = body.statusCode >= 500 || body.statusCode === 401 || body.statusCode === 403 || batchRoute ? 'warn' : 'info'
      request.log[level]({ code: body.code, statusCode: body.statusCode, reason: body.message }, 'request refused')
    }
    if (batchRoute) options.metrics.batchesRejected.inc({ code: body.code })
    void reply.code(body.statusCode).send(body)
  }
}
