import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { createKeyStore } from '../lib/jwks.ts'
import type { KeyStore } from '../lib/jwks.ts'
import { checkClaims, toTokenError } from '../lib/token.ts'
import type { TokenUser } from '../lib/token.ts'
import { createVerifiedTokenCache } from '../lib/verified-tokens.ts'
import { gatewayError, GatewayError } from '../lib/errors.ts'
import { tenantMetadataUrl, tenantResource } from '../lib/paths.ts'

declare module 'fastify' {
  interface FastifyInstance {
    keyStore: KeyStore
    /**
     * Verifies the request's bearer token for one tenant; throws (or rejects with) a 401 or 503
     * GatewayError. A token verified before is answered at once, without a promise.
     */
    authenticate: (request: FastifyRequest, org: string) => TokenUser | Promise<TokenUser>
  }
  interface FastifyRequest {
    gatewayJwtVerify: FastifyRequest['jwtVerify']
  }
}

const BEARER = /^bearer\s+/i
const VERIFIED_TOKENS_MAX = 10_000
const VERIFIED_TOKEN_TTL_MS = 60_000

/**
 * AuthKit bearer tokens: @fastify/jwt (fast-jwt) checks RS256, signature, `iss`, `exp`, `nbf`;
 * keys come from the JWKS key store; the audience and `sub` rules of SPEC §5.4 follow.
 */
async function jwksAuthPlugin (fastify: FastifyInstance): Promise<void> {
  const c = fastify.config
  const keyStore = createKeyStore({
    issuer: c.issuer,
    jwksUrl: c.jwksUrl,
    timeoutMs: c.jwksTimeoutMs,
    cacheTtlMs: c.jwksCacheTtlSeconds * 1000,
    refetchCooldownMs: c.jwksRefetchCooldownSeconds * 1000
  })

  // Namespaced, so a host app with its own @fastify/jwt keeps it.
  await fastify.register(fastifyJwt, {
    namespace: 'gateway',
    decoratorName: 'gatewayClaims',
    decode: { complete: true },
    secret: (_request: FastifyRequest, token: { header: { kid?: unknown, alg?: unknown } }) => keyStore.getKey(token.header),
    verify: {
      algorithms: ['RS256'],
      allowedIss: c.issuer,
      // fast-jwt checks allowedIss only when the claim is present: a token without iss must fail too.
      requiredClaims: ['exp', 'sub', 'iss'],
      clockTolerance: c.clockToleranceSeconds * 1000,
      // Verified tokens are cached below, keyed by the header: fast-jwt's own cache would only
      // hash and store them a second time.
      cache: false,
      errorCacheTTL: 0
    }
  } as Parameters<typeof fastifyJwt>[1])

  const audienceRule = { clientId: c.clientId, extraAudiences: c.extraAudiences, baseUrl: c.baseUrl }
  const verified = createVerifiedTokenCache<TokenUser>({ max: VERIFIED_TOKENS_MAX, maxTtlMs: VERIFIED_TOKEN_TTL_MS })

  /** The token's claims: from the cache, else verified (signature, iss, exp, nbf) and cached. */
  async function verifiedClaims (request: FastifyRequest, header: string): Promise<Record<string, unknown>> {
    let claims = verified.get(header)
    if (claims === undefined) {
      claims = await request.gatewayJwtVerify() as Record<string, unknown>
      verified.set(header, claims)
    }
    return claims
  }

  /** The claims that depend on the tenant asked for: the audience above all. */
  function checkFor (claims: Record<string, unknown>, org: string): TokenUser {
    return checkClaims(claims, tenantResource(c.baseUrl, org), audienceRule, Math.floor(Date.now() / 1000), c.clockToleranceSeconds)
  }

  /**
   * The hot path: a token verified before, whose claims also hold for this tenant. The cache
   * keeps the answer for the last tenant checked: exp is the entry's own limit, and an iat that
   * was not in the future stays so.
   */
  function cachedUser (request: FastifyRequest, org: string): TokenUser | undefined {
    const header = request.headers.authorization
    // Only a header that passed the full check below is ever cached: no format test needed. A
    // token that is not for this tenant is not answered here: the full check below says why.
    return header === undefined ? undefined : verified.userFor(header, org, checkFor)
  }

  function authenticate (request: FastifyRequest, org: string): TokenUser | Promise<TokenUser> {
    return cachedUser(request, org) ?? verify(request, org)
  }

  async function verify (request: FastifyRequest, org: string): Promise<TokenUser> {
    const header = request.headers.authorization
    if (header === undefined || !BEARER.test(header)) {
      throw gatewayError('GW_TOKEN_MISSING', 'a bearer token is required', { 'www-authenticate': `Bearer resource_metadata="${tenantMetadataUrl(c.baseUrl, org)}"` })
    }
    try {
      // The audience depends on the tenant asked for, so it is checked for every tenant.
      return checkFor(await verifiedClaims(request, header), org)
    } catch (err) {
      const e = toTokenError(err)
      if (e.code !== 'GW_TOKEN_INVALID') {
        throw e.headers['retry-after'] === undefined ? new GatewayError(e.code, e.message, { 'retry-after': String(c.retryAfterSeconds) }) : e
      }
      // RFC 6750 §3: a quoted error_description may hold neither '"' nor '\\'.
      const description = e.message.replace(/["\\]/g, '\'')
      throw gatewayError('GW_TOKEN_INVALID', e.message, {
        'www-authenticate': `Bearer error="invalid_token", error_description="${description}", resource_metadata="${tenantMetadataUrl(c.baseUrl, org)}"`
      })
    }
  }

  fastify.decorate('keyStore', keyStore)
  fastify.decorate('authenticate', authenticate)
  fastify.addHook('onReady', async () => {
    // Warm the keys without holding the start: readiness reports whether this has worked yet.
    keyStore.refresh().catch(() => fastify.log.warn('JWKS not reachable at start; /readyz stays 503 until it is'))
  })
}

export default fp(jwksAuthPlugin, { name: 'jwks-auth', fastify: '5.x', dependencies: ['config'] })
