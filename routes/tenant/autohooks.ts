import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { parseTenantPath, upstreamPath } from '../../lib/paths.ts'
import type { TenantPath } from '../../lib/paths.ts'
import { gatewayError } from '../../lib/errors.ts'
import { EXPOSED_HEADERS, originAllowed } from '../../lib/cors.ts'
import { roleAllowed } from '../../lib/membership.ts'
import type { Destination } from '../../plugins/proxy.ts'
import type { TenantRoute } from '../../lib/mapping.ts'

declare module 'fastify' {
  interface FastifyRequest {
    tenant: TenantState | null
  }
}

/** What the checks learn about a request, step by step. */
export interface TenantState {
  path: TenantPath
  userId?: string
  route?: TenantRoute
  destination?: Destination
}

/**
 * The order of checks of SPEC §5, one hook a step: each one that answers ends the request, and
 * nothing after it runs. The proxy handler only runs once all of them have passed.
 */
export default async function tenantHooks (fastify: FastifyInstance): Promise<void> {
  const c = fastify.config
  fastify.decorateRequest('tenant', null)

  // 1. The path: an organization id, and a rest that cannot leave /mcp/<partition>/.
  fastify.addHook('onRequest', async function checkPath (request: FastifyRequest) {
    const path = parseTenantPath(request.raw.url ?? '')
    if (path === null) throw gatewayError('GW_NOT_FOUND', 'no such resource')
    request.tenant = { path }
  })

  // 2. The origin, against the allow-list when one is configured (DNS-rebinding defence).
  fastify.addHook('onRequest', async function checkOrigin (request: FastifyRequest, reply: FastifyReply) {
    const origin = request.headers.origin
    if (!originAllowed(origin, c.allowedOrigins)) throw gatewayError('GW_ORIGIN_FORBIDDEN', 'this origin may not call the gateway')
    if (origin !== undefined) {
      reply.header('access-control-allow-origin', origin)
        .header('access-control-expose-headers', EXPOSED_HEADERS)
        .header('vary', 'Origin')
    }
  })

  // 3 and 4. The bearer token, verified for this tenant.
  fastify.addHook('onRequest', async function authenticate (request: FastifyRequest) {
    const tenant = request.tenant as TenantState
    tenant.userId = (await fastify.authenticate(request, tenant.path.org)).userId
  })

  // 5. The partition: strict mode answers 404 only now, so strangers cannot probe which tenants exist.
  fastify.addHook('onRequest', async function resolvePartition (request: FastifyRequest) {
    const tenant = request.tenant as TenantState
    const route = fastify.partitions.resolve(tenant.path.org)
    if (route === null) throw gatewayError('GW_NOT_FOUND', 'no such resource')
    tenant.route = route
  })

  // 6. Membership: an active member of the organization, with a role the mapping admits.
  fastify.addHook('onRequest', async function checkMembership (request: FastifyRequest) {
    const tenant = request.tenant as TenantState
    const route = tenant.route as TenantRoute
    const membership = await fastify.membership.get(tenant.userId as string, tenant.path.org)
    if (membership === null) throw gatewayError('GW_NOT_MEMBER', 'the user is not an active member of this organization')
    if (!roleAllowed(membership, route.allowedRoles)) throw gatewayError('GW_ROLE_FORBIDDEN', 'the user\'s role may not use this organization\'s MCP server')
    const owner = { userId: tenant.userId as string, org: tenant.path.org }
    tenant.destination = {
      path: upstreamPath(c.upstreamPathPrefix, route.partition, tenant.path),
      apiKey: route.apiKey ?? c.ragieApiKey,
      sessionId: undefined,
      bindSession: upstreamId => fastify.sessionBinder.wrap(upstreamId, owner)
    }
  })

  // 7. The session: an Mcp-Session-Id must be one this gateway issued to this user in this
  // organization (Ragie only sees the gateway's key, so it cannot tell users apart).
  fastify.addHook('onRequest', async function checkSession (request: FastifyRequest) {
    const header = request.headers['mcp-session-id']
    if (header === undefined) return
    const tenant = request.tenant as TenantState
    const upstreamId = typeof header === 'string' ? fastify.sessionBinder.unwrap(header, { userId: tenant.userId as string, org: tenant.path.org }) : null
    if (upstreamId === null) throw gatewayError('GW_SESSION_UNKNOWN', 'no such session')
    ;(tenant.destination as Destination).sessionId = upstreamId
  })

  // 8. Open event streams (GET, the long-lived ones) per user, so one user cannot hold every socket.
  fastify.addHook('onRequest', async function limitStreams (request: FastifyRequest, reply: FastifyReply) {
    if (request.method !== 'GET') return
    const release = fastify.streamQuota.acquire((request.tenant as TenantState).userId as string)
    if (release === null) {
      throw gatewayError('GW_TOO_MANY_STREAMS', 'too many open streams for this user', { 'retry-after': String(c.retryAfterSeconds) })
    }
    reply.raw.once('close', release)
  })
}
