import { WorkOS, RateLimitExceededException, NotFoundException, UnprocessableEntityException, BadRequestException } from '@workos-inc/node'
import type { Membership, MembershipLookup } from './membership.ts'
import { MembershipUnavailableError } from './membership.ts'

export interface WorkosLookupOptions {
  apiKey: string
  apiUrl: string
  timeoutMs: number
  maxRetries: number
}

/** The official SDK, pointed at `apiUrl` (the SDK takes host, port and scheme apart). */
export function createWorkosClient (opts: WorkosLookupOptions): WorkOS {
  const api = new URL(opts.apiUrl)
  return new WorkOS(opts.apiKey, {
    apiHostname: api.hostname,
    https: api.protocol === 'https:',
    port: api.port === '' ? undefined : Number(api.port),
    timeout: opts.timeoutMs,
    maxRetries: opts.maxRetries
  })
}

/**
 * The one place the gateway asks WorkOS anything: the user's active membership in one
 * organization, through the official SDK (`listOrganizationMemberships`).
 */
export function createWorkosLookup (opts: WorkosLookupOptions): MembershipLookup {
  const workos = createWorkosClient(opts)

  return async function lookupMembership (userId: string, organizationId: string): Promise<Membership | null> {
    let page
    try {
      page = await workos.userManagement.listOrganizationMemberships({ userId, organizationId, statuses: ['active'], limit: 10 })
    } catch (err) {
      // A malformed or unknown id is an answer (no membership); anything else is an outage.
      if (err instanceof NotFoundException || err instanceof UnprocessableEntityException || err instanceof BadRequestException) return null
      const retryAfter = err instanceof RateLimitExceededException && typeof err.retryAfter === 'number' && err.retryAfter > 0
        ? Math.min(Math.ceil(err.retryAfter), 300)
        : undefined
      throw new MembershipUnavailableError('WorkOS membership look-up failed', retryAfter)
    }
    const found = page.data.find(m => m.status === 'active' && m.userId === userId && m.organizationId === organizationId)
    if (found === undefined) return null
    const roles = new Set<string>()
    if (typeof found.role?.slug === 'string') roles.add(found.role.slug)
    for (const role of found.roles ?? []) {
      if (typeof role?.slug === 'string') roles.add(role.slug)
    }
    return { roles: [...roles] }
  }
}
