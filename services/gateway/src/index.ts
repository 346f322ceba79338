export { runGateway, type RunGatewayOptions } from './run-gateway.js'
export { buildGatewayApp, requestLogBindings, DEFAULT_BODY_LIMIT, type GatewayAppOptions } from './build-gateway-app.js'
export {
  createBatchPublisher, DEFAULT_MAX_IN_FLIGHT, DEFAULT_PUBLISH_TIMEOUT_MS,
  type BatchPublisher, type BatchPublisherOptions, type OutgoingBatch, type PublishedBatch
} from './batch-publisher.js'
export {
  authFromSettings, resolveAuth, DEFAULT_JWKS_CHECK_INTERVAL_MS,
  type AuthSettings, type GatewayAuthOptions, type ResolvedAuth, type Algorithm
} from './auth-options.js'
export { createTokenVerifier, type TokenVerifier, type ClaimsPolicy } from './token-verifier.js'
export { createGatewayMetrics, type GatewayMetrics } from './gateway-metrics.js'
export { GatewayError, GATEWAY_ERRORS, errorReply, isGatewayError, type GatewayErrorCode } from './errors.js'
