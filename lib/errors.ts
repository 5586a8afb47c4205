/** Every error a client can see, with its HTTP status and the `error` code of the JSON body. */
export const errorCodes = {
  GW_NOT_FOUND: { statusCode: 404, error: 'not_found' },
  GW_ORIGIN_FORBIDDEN: { statusCode: 403, error: 'forbidden_origin' },
  GW_TOKEN_MISSING: { statusCode: 401, error: 'unauthorized' },
  GW_TOKEN_INVALID: { statusCode: 401, error: 'invalid_token' },
  GW_JWKS_UNAVAILABLE: { statusCode: 503, error: 'temporarily_unavailable' },
  GW_NOT_MEMBER: { statusCode: 403, error: 'forbidden' },
  GW_ROLE_FORBIDDEN: { statusCode: 403, error: 'forbidden' },
  GW_MEMBERSHIP_UNAVAILABLE: { statusCode: 503, error: 'temporarily_unavailable' },
  GW_METADATA_UNAVAILABLE: { statusCode: 503, error: 'temporarily_unavailable' },
  GW_NOT_READY: { statusCode: 503, error: 'not_ready' },
  GW_SHUTTING_DOWN: { statusCode: 503, error: 'temporarily_unavailable' },
  GW_SESSION_UNKNOWN: { statusCode: 404, error: 'not_found' },
  GW_BODY_TOO_LARGE: { statusCode: 413, error: 'payload_too_large' },
  GW_TOO_MANY_STREAMS: { statusCode: 429, error: 'too_many_requests' },
  GW_UPSTREAM_UNREACHABLE: { statusCode: 502, error: 'bad_gateway' },
  GW_UPSTREAM_TIMEOUT: { statusCode: 504, error: 'gateway_timeout' },
  GW_UPSTREAM_REFUSED: { statusCode: 502, error: 'bad_gateway' },
  GW_BAD_REQUEST: { statusCode: 400, error: 'bad_request' },
  GW_INTERNAL: { statusCode: 500, error: 'internal_error' },
  GW_WEBHOOK_SIGNATURE: { statusCode: 401, error: 'invalid_signature' },
  GW_REVOCATION_UNAVAILABLE: { statusCode: 503, error: 'temporarily_unavailable' },
  GW_RATE_LIMITED: { statusCode: 429, error: 'too_many_requests' },
  // Never seen by anyone (the client is gone): for the request log line and the metrics.
  GW_CLIENT_CLOSED: { statusCode: 499, error: 'client_closed_request' }
} as const

export type ErrorCode = keyof typeof errorCodes

/** A request-level failure: the error handler turns it into `{ error, error_description }`. */
export class GatewayError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  readonly error: string
  readonly headers: Record<string, string>

  constructor (code: ErrorCode, description: string, headers: Record<string, string> = {}) {
    super(description)
    this.name = 'GatewayError'
    this.code = code
    this.statusCode = errorCodes[code].statusCode
    this.error = errorCodes[code].error
    this.headers = headers
  }
}

/** Builds a GatewayError; the one factory for request-level errors. */
export function gatewayError (code: ErrorCode, description: string, headers?: Record<string, string>): GatewayError {
  return new GatewayError(code, description, headers)
}

/** The client left before its answer began (its request line says 499; no one reads the body). */
export function clientClosed (): GatewayError {
  return gatewayError('GW_CLIENT_CLOSED', 'the client closed the connection before the answer')
}

/** Start-up failure: printed as one line, the process exits non-zero. */
export class ConfigError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ConfigError'
    // One clear line: the message says what is wrong, a stack would only add noise.
    this.stack = `${this.name}: ${message}`
  }
}

/** The JSON body every error answer carries. */
export function errorBody (error: string, description: string): { error: string, error_description: string } {
  return { error, error_description: description }
}
