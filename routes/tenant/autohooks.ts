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
 * The order of checks of SPEC §5, one function a step, run in order by one hook: each step that
 * answers ends the request, and nothing after it runs. The proxy handler only runs once all of
 * them have passed. (One hook, not eight: each hook costs every request a promise and a dispatch.)
 */
export default async function tenantHooks (fastify: FastifyInstance): Promise<void> {
  const c = fastify.config
  fastify.decorateRequest('tenant', null)

  // 1. The path: an organization id, and a rest that cannot leave /mcp/<partition>/.
  function checkPath (request: FastifyRequest): TenantState {
    const path = parseTenantPath(request.raw.url ?? '')
    if (path === null) throw gatewayError('GW_NOT_FOUND', 'no such resource')
    const tenant: TenantState = { path }
    request.tenant = tenant
    return tenant
  }

  // 2. The origin, against the allow-list when one is configured (DNS-rebinding defence).
  function checkOrigin (request: FastifyRequest, reply: FastifyReply): void {
    const origin = request.headers.origin
    if (!originAllowed(origin, c.allowedOrigins)) throw gatewayError('GW_ORIGIN_FORBIDDEN', 'this origin may not call the gateway')
    if (origin !== undefined) {
      reply.header('access-control-allow-origin', origin)
        .header('access-control-expose-headers', EXPOSED_HEADERS)
        .header('vary', 'Origin')
    }
  }

  // 3 and 4. The bearer token, verified for this tenant.
  async function authenticate (request: FastifyRequest, tenant: TenantState): Promise<string> {
    const { userId } = await fastify.authenticate(request, tenant.path.org)
    tenant.userId = userId
    return userId
  }

  // 5. The partition: strict mode answers 404 only now, so strangers cannot probe which tenants exist.
  function resolvePartition (tenant: TenantState): TenantRoute {
    const route = fastify.partitions.resolve(tenant.path.org)
    if (route === null) throw gatewayError('GW_NOT_FOUND', 'no such resource')
    tenant.route = route
    return route
  }

  // 6. Membership: an active member of the organization, with a role the mapping admits.
  async function checkMembership (tenant: TenantState, userId: string, route: TenantRoute): Promise<Destination> {
    const membership = await fastify.membership.get(userId, tenant.path.org)
    if (membership === null) throw gatewayError('GW_NOT_MEMBER', 'the user is not an active member of this organization')
    if (!roleAllowed(membership, route.allowedRoles)) throw gatewayError('GW_ROLE_FORBIDDEN', 'the user\'s role may not use this organization\'s MCP server')
    const owner = { userId, org: tenant.path.org }
    const destination: Destination = {
      path: upstreamPath(c.upstreamPathPrefix, route.partition, tenant.path),
      apiKey: route.apiKey ?? c.ragieApiKey,
      sessionId: undefined,
      bindSession: upstreamId => fastify.sessionBinder.wrap(upstreamId, owner)
    }
    tenant.destination = destination
    return destination
  }

  // 7. The session: an Mcp-Session-Id must be one this gateway issued to this user in this
  // organization (Ragie only sees the gateway's key, so it cannot tell users apart).
  function checkSession (request: FastifyRequest, tenant: TenantState, userId: string, destination: Destination): void {
    const header = request.headers['mcp-session-id']
    if (header === undefined) return
    const upstreamId = typeof header === 'string' ? fastify.sessionBinder.unwrap(header, { userId, org: tenant.path.org }) : null
    if (upstreamId === null) throw gatewayError('GW_SESSION_UNKNOWN', 'no such session')
    destination.sessionId = upstreamId
  }

  // 8. Open event streams (GET, the long-lived ones) per user, so one user cannot hold every socket.
  function limitStreams (request: FastifyRequest, reply: FastifyReply, userId: string): void {
    if (request.method !== 'GET') return
    const release = fastify.streamQuota.acquire(userId)
    if (release === null) {
      throw gatewayError('GW_TOO_MANY_STREAMS', 'too many open streams for this user', { 'retry-after': String(c.retryAfterSeconds) })
    }
    reply.raw.once('close', release)
  }

  fastify.addHook('onRequest', async function checkTenant (request: FastifyRequest, reply: FastifyReply) {
    const tenant = checkPath(request)
    checkOrigin(request, reply)
    const userId = await authenticate(request, tenant)
    const route = resolvePartition(tenant)
    const destination = await checkMembership(tenant, userId, route)
    checkSession(request, tenant, userId, destination)
    limitStreams(request, reply, userId)
  })
}
