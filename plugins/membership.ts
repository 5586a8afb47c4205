import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createMembershipCache } from '../lib/membership.ts'
import type { MembershipCache } from '../lib/membership.ts'
import { createEvictionBus, createRedisMembershipStore } from '../lib/membership-store.ts'
import type { Eviction } from '../lib/membership-store.ts'
import { createWorkosLookup } from '../lib/workos.ts'

const HOUR_MS = 3_600_000
// A failing shared cache is logged at most this often (each line says how many failures it stands for).
const SHARED_ERROR_LOG_MS = 10_000

declare module 'fastify' {
  interface FastifyInstance {
    membership: Memberships
  }
}

export interface Memberships extends MembershipCache {
  /**
   * Forgets a membership on every instance (Redis pub/sub), or on this one without Redis, and ends
   * the user's open event streams there; rejects when Redis cannot take the eviction, so the
   * caller can answer with a retryable error.
   */
  revoke: (eviction: Eviction) => Promise<void>
}

/**
 * WorkOS membership look-ups behind a cache with single flight; decorates `fastify.membership`.
 * With Redis the instances share the answers (a second tier) and each other's evictions.
 */
async function membershipPlugin (fastify: FastifyInstance): Promise<void> {
  const c = fastify.config
  const redis = fastify.redis
  // A revocation's mark in Redis outlives any look-up that began before it (WorkOS's timeout,
  // each retry included, with room to spare).
  const store = redis === null ? undefined : createRedisMembershipStore(redis, { revocationHoldMs: Math.max(HOUR_MS, 2 * (c.workosMaxRetries + 1) * c.workosTimeoutMs) })
  // At most one line per SHARED_ERROR_LOG_MS, saying how many failures it stands for: while Redis
  // is down every uncached request fails here, and lib/redis.ts has already said so, once.
  let reportedAt = -Infinity
  let unreported = 0
  function sharedError (err: Error): void {
    unreported++
    const t = performance.now()
    if (t - reportedAt < SHARED_ERROR_LOG_MS) return
    fastify.log.warn({ reason: err.message, failures: unreported }, 'shared membership cache failed')
    reportedAt = t
    unreported = 0
  }
  const cache = createMembershipCache({
    lookup: createWorkosLookup({ apiKey: c.workosApiKey, apiUrl: c.workosApiUrl, timeoutMs: c.workosTimeoutMs, maxRetries: c.workosMaxRetries }),
    ttlMs: c.membershipTtlSeconds * 1000,
    negativeTtlMs: c.membershipNegativeTtlSeconds * 1000,
    max: c.membershipCacheMax,
    lookupsPerUserPerMinute: c.membershipLookupsPerUserPerMin,
    retryAfterSeconds: c.retryAfterSeconds,
    shared: store,
    onSharedError: sharedError
  })
  // A revoked membership also ends the user's open event streams in that organization (in all of
  // them for a deleted user), cleanly: the client's reconnection meets the checks again, and is
  // refused. Otherwise a stream opened before the revocation would go on delivering Ragie's
  // messages for as long as it stays open.
  function forget (eviction: Eviction): void {
    cache.evict(eviction.userId, eviction.organizationId)
    const ended = fastify.upstream.streams.endFor(eviction.userId, eviction.organizationId)
    if (ended > 0) fastify.log.info({ user: eviction.userId, org: eviction.organizationId, streams: ended }, 'event streams of a revoked membership ended')
  }

  const bus = redis === null || store === undefined
    ? null
    : createEvictionBus(redis, store, {
      onEviction: forget,
      onSubscribed (again) {
        // Evictions sent while this instance was not listening are lost to it: what it holds may
        // include a revoked member. Redis has the revocations; the next requests read it again.
        cache.clear()
        if (!again) return
        // Open event streams too: one of a member revoked meanwhile would go on. Their clients
        // reconnect (to this instance or another) and meet the checks again.
        const streams = fastify.upstream.streams.size
        fastify.upstream.streams.endAll()
        fastify.log.warn({ streamsEnded: streams }, 'revocation channel back: local membership cache dropped and open event streams ended, evictions sent meanwhile may have been missed')
      },
      onLost: reason => fastify.log.error({ reason }, 'revocation channel lost: evictions from other instances do not reach this one until it is back'),
      onRevokeFailed: err => fastify.log.error({ reason: err.message }, 'revocation from an instance of an earlier release not written to Redis')
    })

  // Forgotten before the publish and again after it: what a request read from Redis in between
  // (before the revocation landed there) is dropped too, even if this instance's own copy of the
  // message never comes (its subscription lost).
  async function revoke (eviction: Eviction): Promise<void> {
    forget(eviction)
    if (bus === null) return
    try {
      await bus.publish(eviction)
    } finally {
      // Even when the publish failed (the revocation itself may have landed): WorkOS retries the
      // webhook on the 503, but what this instance read meanwhile goes now.
      forget(eviction)
    }
  }

  fastify.decorate('membership', Object.assign(cache, { revoke }))
  fastify.addHook('onClose', async () => {
    await bus?.close()
    cache.clear()
  })
}

export default fp(membershipPlugin, { name: 'membership', fastify: '5.x', dependencies: ['config', 'redis', 'proxy'] })
