import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createMembershipCache } from '../lib/membership.ts'
import type { MembershipCache } from '../lib/membership.ts'
import { createWorkosLookup } from '../lib/workos.ts'

declare module 'fastify' {
  interface FastifyInstance {
    membership: MembershipCache
  }
}

/** WorkOS membership look-ups behind a cache with single flight; decorates `fastify.membership`. */
async function membershipPlugin (fastify: FastifyInstance): Promise<void> {
  const c = fastify.config
  const membership = createMembershipCache({
    lookup: createWorkosLookup({ apiKey: c.workosApiKey, apiUrl: c.workosApiUrl, timeoutMs: c.workosTimeoutMs, maxRetries: c.workosMaxRetries }),
    ttlMs: c.membershipTtlSeconds * 1000,
    negativeTtlMs: c.membershipNegativeTtlSeconds * 1000,
    max: c.membershipCacheMax,
    retryAfterSeconds: c.retryAfterSeconds
  })
  fastify.decorate('membership', membership)
  fastify.addHook('onClose', async () => { membership.clear() })
}

export default fp(membershipPlugin, { name: 'membership', fastify: '5.x', dependencies: ['config'] })
