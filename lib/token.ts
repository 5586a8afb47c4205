import { gatewayError, GatewayError } from './errors.ts'

export interface AudienceRule {
  clientId: string
  extraAudiences: readonly string[]
  baseUrl: string
}

/** What the gateway keeps of a verified token. */
export interface TokenUser {
  userId: string
}

/**
 * Checks what fast-jwt leaves to us: `sub` is a usable string, `iat` is not in the future, and
 * `aud` names this tenant, the client id or a configured extra, and no other tenant of this gateway.
 */
export function checkClaims (payload: Record<string, unknown>, resource: string, rule: AudienceRule, nowSeconds: number, toleranceSeconds: number): TokenUser {
  const sub = payload.sub
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256) throw invalid('the token has no usable sub claim')
  const iat = payload.iat
  if (iat !== undefined && (typeof iat !== 'number' || iat > nowSeconds + toleranceSeconds)) throw invalid('the token iat claim is in the future')
  const aud = payload.aud
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : []
  let accepted = false
  for (const a of audiences) {
    if (typeof a !== 'string') throw invalid('the token aud claim is malformed')
    if (a === resource || a === rule.clientId || rule.extraAudiences.includes(a)) {
      accepted = true
    } else if (a.startsWith(rule.baseUrl + '/') || namesAPathOf(a, rule.baseUrl)) {
      // Another resource of this gateway, in any spelling of its origin (`HTTPS://GW…`, `:443`):
      // a token minted for one tenant never opens another.
      throw invalid('the token audience is not this resource')
    }
  }
  if (!accepted) throw invalid('the token audience is not this resource')
  return { userId: sub }
}

/** Whether `audience` is a URL of this gateway's origin (as the URL parser normalises it) with a path. */
function namesAPathOf (audience: string, origin: string): boolean {
  const url = URL.parse(audience)
  return url !== null && url.origin === origin && url.pathname !== '/'
}

function invalid (description: string): GatewayError {
  return gatewayError('GW_TOKEN_INVALID', description)
}

const jwtDescriptions: Record<string, string> = {
  FST_JWT_AUTHORIZATION_TOKEN_EXPIRED: 'the token has expired',
  FAST_JWT_EXPIRED: 'the token has expired',
  FAST_JWT_INACTIVE: 'the token is not valid yet',
  FAST_JWT_INVALID_SIGNATURE: 'the token signature is invalid',
  FAST_JWT_MISSING_SIGNATURE: 'the token is not signed',
  FAST_JWT_INVALID_ALGORITHM: 'the token must be signed with RS256',
  FAST_JWT_MALFORMED: 'the token is malformed',
  FAST_JWT_INVALID_TYPE: 'the token is malformed',
  FAST_JWT_MISSING_REQUIRED_CLAIM: 'the token lacks a required claim',
  FAST_JWT_INVALID_CLAIM_VALUE: 'a token claim has an unaccepted value',
  FAST_JWT_INVALID_CLAIM_TYPE: 'a token claim has the wrong type',
  FST_JWT_BAD_REQUEST: 'the authorization header must be "Bearer <token>"',
  FST_JWT_AUTHORIZATION_TOKEN_UNTRUSTED: 'the token is not trusted',
  FAST_JWT_MISSING_SIGNATURE_KEY: 'the token is not signed'
}

/**
 * Maps anything @fastify/jwt or fast-jwt throws to a 401 (their defaults answer 400 or 500 for
 * some); our own errors (an unknown key, JWKS down) pass as they are.
 */
export function toTokenError (err: unknown): GatewayError {
  if (err instanceof GatewayError) return err
  const e = err as { code?: string, originalError?: unknown, message?: string }
  if (e?.originalError instanceof GatewayError) return e.originalError
  const description = (e?.code !== undefined && jwtDescriptions[e.code]) ||
    (typeof e?.message === 'string' && /expired/i.test(e.message) ? 'the token has expired' : 'the token is invalid')
  return invalid(description)
}
