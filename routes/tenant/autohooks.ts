import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { parseTenantPath, upstreamPath } from '../../lib/paths.ts'
import type { TenantPath } from '../../lib/paths.ts'
import { clientClosed, gatewayError } from '../../lib/errors.ts'
import { originAllowed, setCorsHeaders } from '../../lib/cors.ts'
import { roleAllowed } from '../../lib/membership.ts'
import type { Membership } from '../../lib/membership.ts'
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
  /**
   * When the request came in (performance.now): a stream is ended as it opens if its owner's
   * streams were ended since. Not Fastify's `reply.elapsedTime`, which stays 0 in an app without
   * a logger or an onResponse hook (the gateway embedded in a host's `Fastify()`).
   */
  admittedAt: number
  userId?: string
  route?: TenantRoute
  destination?: Destination
}

/**
 * The order of checks of SPEC §5, one function a step, run in order by one hook: each step that
 * answers ends the request, and nothing after it runs. The proxy handler only runs once all of
 * them have passed. (One hook, not eight: each hook costs every request a dispatch; and a
 * callback hook, not an async one, so that a request whose token and membership are cached
 * passes without a single promise.)
 */
export default async function tenantHooks (fastify: FastifyInstance): Promise<void> {
  const c = fastify.config
  fastify.decorateRequest('tenant', null)

  // 1. The path: an organization id, and a rest that cannot leave /mcp/<partition>/.
  function checkPath (request: FastifyRequest): TenantState {
    const path = parseTenantPath(request.raw.url ?? '')
    if (path === null) throw gatewayError('GW_NOT_FOUND', 'no such resource')
    const tenant: TenantState = { path, admittedAt: performance.now() }
    request.tenant = tenant
    return tenant
  }

  // 2. The origin, against the allow-list when one is configured (DNS-rebinding defence).
  function checkOrigin (request: FastifyRequest, reply: FastifyReply): void {
    const origin = request.headers.origin
    if (!originAllowed(origin, c.allowedOrigins)) throw gatewayError('GW_ORIGIN_FORBIDDEN', 'this origin may not call the gateway')
    if (origin !== undefined) setCorsHeaders(reply, origin)
  }

  // 5. The partition: strict mode answers 404 only now, so strangers cannot probe which tenants exist.
  function resolvePartition (tenant: TenantState): TenantRoute {
    const route = fastify.partitions.resolve(tenant.path.org)
    if (route === null) throw gatewayError('GW_NOT_FOUND', 'no such resource')
    tenant.route = route
    return route
  }

  // 6. Membership: an active member of the organization, with a role the mapping admits.
  function checkMembership (tenant: TenantState, userId: string, route: TenantRoute, membership: Membership | null): Destination {
    if (membership === null) throw gatewayError('GW_NOT_MEMBER', 'the user is not an active member of this organization')
    if (!roleAllowed(membership, route.allowedRoles)) throw gatewayError('GW_ROLE_FORBIDDEN', 'the user\'s role may not use this organization\'s MCP server')
    const destination: Destination = {
      path: upstreamPath(c.upstreamPathPrefix, route.partition, tenant.path.rest),
      // reply-from takes the query apart from the path, without its `?`.
      query: tenant.path.query.slice(1),
      apiKey: route.apiKey ?? c.ragieApiKey,
      sessionId: undefined,
      userId,
      org: tenant.path.org,
      partition: route.partition
    }
    tenant.destination = destination
    return destination
  }

  // 7. The session: an Mcp-Session-Id must be one this gateway issued to this user in this
  // organization (Ragie only sees the gateway's key, so it cannot tell users apart).
  function checkSession (request: FastifyRequest, destination: Destination): void {
    const header = request.headers['mcp-session-id']
    if (header === undefined) return
    const upstreamId = typeof header === 'string' ? fastify.sessionBinder.unwrap(header, destination) : null
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

  // Steps 1 to 4; then, once the user is known, 5 to 8. A step that has to wait (a token not seen
  // before, a membership not cached) makes the rest wait; on the hot path, nothing waits, and
  // the hook calls `done` before it returns: no promise, no extra tick.
  function checkRequest (request: FastifyRequest, reply: FastifyReply): Promise<void> | undefined {
    const tenant = checkPath(request)
    checkOrigin(request, reply)
    // 3 and 4. The bearer token, verified for this tenant (at once when it was verified before).
    const user = fastify.authenticate(request, tenant.path.org)
    return user instanceof Promise
      ? user.then(u => checkMember(request, reply, tenant, u.userId))
      : checkMember(request, reply, tenant, user.userId)
  }

  function checkMember (request: FastifyRequest, reply: FastifyReply, tenant: TenantState, userId: string): Promise<void> | undefined {
    tenant.userId = userId
    const route = resolvePartition(tenant)
    const membership = fastify.membership.get(userId, tenant.path.org)
    if (membership instanceof Promise) return membership.then(m => { checkRest(request, reply, tenant, userId, route, m) })
    checkRest(request, reply, tenant, userId, route, membership)
  }

  function checkRest (request: FastifyRequest, reply: FastifyReply, tenant: TenantState, userId: string, route: TenantRoute, membership: Membership | null): void {
    // A client that left while the request waited (JWKS, WorkOS, Redis): Ragie is not asked to run
    // a call nobody will read, and a stream takes no slot (its 'close' has been and gone, so the
    // slot would never be given back).
    if (reply.raw.destroyed) throw clientClosed()
    const destination = checkMembership(tenant, userId, route, membership)
    checkSession(request, destination)
    limitStreams(request, reply, userId)
  }

  fastify.addHook('onRequest', function checkTenant (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) {
    let waiting: Promise<void> | undefined
    try {
      waiting = checkRequest(request, reply)
    } catch (err) {
      return done(err as Error)
    }
    if (waiting === undefined) return done()
    waiting.then(() => done(), done)
  })
}
