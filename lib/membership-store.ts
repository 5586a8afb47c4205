import type { RedisLink } from './redis.ts'
import type { MembershipEntry, SharedMembershipStore } from './membership.ts'

/** What an instance is told to forget: one (user, org), or every organization of a user. */
export interface Eviction {
  userId: string
  organizationId?: string
}

interface Stored {
  /** member: roles; not a member: null */
  roles: string[] | null
  /** Epoch milliseconds after which the answer is stale. */
  expiresAt: number
}

function userKey (link: RedisLink, userId: string): string {
  return `${link.keyPrefix}membership:${userId}`
}

/**
 * Memberships in Redis: one hash per user, a field per organization holding the answer and when
 * it expires (Redis 7.0 has no expiry per field). The hash itself expires with the last answer
 * written, which may drop an older field early: that costs a look-up, never a stale answer.
 */
export function createRedisMembershipStore (link: RedisLink): SharedMembershipStore {
  return {
    async get (userId, organizationId) {
      const raw = await link.client.hget(userKey(link, userId), organizationId)
      if (raw === null) return undefined
      const stored = JSON.parse(raw) as Stored
      const ttlMs = stored.expiresAt - Date.now()
      if (ttlMs <= 0) return undefined
      const entry: MembershipEntry = stored.roles === null ? { member: false } : { member: true, membership: { roles: stored.roles } }
      return { entry, ttlMs }
    },
    async set (userId, organizationId, entry, ttlMs) {
      const stored: Stored = { roles: entry.member ? [...entry.membership.roles] : null, expiresAt: Date.now() + ttlMs }
      const key = userKey(link, userId)
      await link.client.multi().hset(key, organizationId, JSON.stringify(stored)).pexpire(key, ttlMs).exec()
    }
  }
}

/** Evictions published to every instance of the fleet, this one included. */
export interface EvictionBus {
  /** Deletes the shared answers, then tells every instance to drop its own copy. */
  publish: (eviction: Eviction) => Promise<void>
  close: () => Promise<void>
}

function channel (link: RedisLink): string {
  return `${link.keyPrefix}membership:evict`
}

/** Subscribes to the fleet's eviction channel; each message is handed to `onEviction`. */
export function createEvictionBus (link: RedisLink, onEviction: (eviction: Eviction) => void): EvictionBus {
  const name = channel(link)
  function onMessage (from: string, message: string): void {
    if (from !== name) return
    const parsed = parseEviction(message)
    if (parsed !== null) onEviction(parsed)
  }
  link.subscriber.on('message', onMessage)
  // The subscriber queues the command until it is connected, and re-subscribes after a reconnect.
  link.subscriber.subscribe(name).catch(() => {})
  return {
    async publish (eviction) {
      const key = userKey(link, eviction.userId)
      if (eviction.organizationId === undefined) await link.client.del(key)
      else await link.client.hdel(key, eviction.organizationId)
      await link.client.publish(name, JSON.stringify(eviction))
    },
    async close () {
      link.subscriber.off('message', onMessage)
    }
  }
}

function parseEviction (message: string): Eviction | null {
  try {
    const value = JSON.parse(message) as Partial<Eviction>
    if (typeof value.userId !== 'string') return null
    return typeof value.organizationId === 'string' ? { userId: value.userId, organizationId: value.organizationId } : { userId: value.userId }
  } catch {
    return null
  }
}
