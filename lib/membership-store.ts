import { randomBytes } from 'node:crypto'
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

/*
 * The layout, per user (the braces keep a user's keys in one hash slot):
 *
 *   membership:{<user>}:g          the user's generation: a random token
 *   membership:{<user>}:o:<org>    "<generation> <answer JSON>", expiring with the answer
 *
 * An answer counts only while its generation is the user's current one. A revocation replaces the
 * generation, so every answer written before it is dead at once, and so is any answer whose
 * look-up began before it: the write checks, in one script, that the generation is still the one
 * read before the look-up. That closes the race where another instance asked WorkOS just before
 * a revocation and, its answer arriving after, wrote "member" back for the whole fleet.
 *
 * Each answer is a key of its own with its own expiry, so a user who keeps naming new
 * organizations holds only the answers still alive, never a growing list. The generation key
 * lives at least as long as the answers written under it; when it expires, they have too.
 */
function userTag (link: RedisLink, userId: string): string {
  return `${link.keyPrefix}membership:{${userId}}`
}

/** The per-user hash of the releases before generations; deleted at every revocation for them. */
function legacyKey (link: RedisLink, userId: string): string {
  return `${link.keyPrefix}membership:${userId}`
}

/** A generation a revocation sets starts with `r`; one the first write for a user sets, with `w`. */
function freshGeneration (by: 'r' | 'w'): string {
  return by + randomBytes(12).toString('base64url')
}

// KEYS: generation, answer. ARGV: the generation read before the look-up ('' when there was none),
// a fresh generation, the answer JSON, its TTL in ms. Writes nothing when a revocation came since.
// A `w` generation found where there was none was set by another write, not by a revocation (it
// would have replaced it with an `r` one, kept longer than any look-up): the answer still counts.
const WRITE = `
local g = redis.call('GET', KEYS[1])
if not g then
  if ARGV[1] ~= '' then return 0 end
  g = ARGV[2]
  redis.call('SET', KEYS[1], g, 'PX', ARGV[4])
elseif g ~= ARGV[1] and not (ARGV[1] == '' and string.sub(g, 1, 1) == 'w') then
  return 0
end
redis.call('SET', KEYS[2], g .. ' ' .. ARGV[3], 'PX', ARGV[4])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1
`

export interface RedisMembershipStoreOptions {
  /**
   * How long a revocation's generation is kept: longer than any look-up can take, so a look-up
   * that began before the revocation always finds it changed.
   */
  revocationHoldMs: number
}

/** The shared tier in Redis, and the revocations that invalidate it for every instance. */
export interface RedisMembershipStore extends SharedMembershipStore {
  /** Makes every answer stored for the user dead, including any whose look-up is under way. */
  revoke: (userId: string) => Promise<void>
}

export function createRedisMembershipStore (link: RedisLink, opts: RedisMembershipStoreOptions): RedisMembershipStore {
  return {
    async get (userId, organizationId) {
      const tag = userTag(link, userId)
      const [generation, raw] = await link.client.mget(`${tag}:g`, `${tag}:o:${organizationId}`)
      const version = generation ?? ''
      if (generation === null || raw === null) return { version }
      const space = raw.indexOf(' ')
      if (raw.slice(0, space) !== generation) return { version }
      const stored = JSON.parse(raw.slice(space + 1)) as Stored
      const ttlMs = stored.expiresAt - Date.now()
      if (ttlMs <= 0) return { version }
      const entry: MembershipEntry = stored.roles === null ? { member: false } : { member: true, membership: { roles: stored.roles } }
      return { found: { entry, ttlMs }, version }
    },
    async set (userId, organizationId, entry, ttlMs, version) {
      const stored: Stored = { roles: entry.member ? [...entry.membership.roles] : null, expiresAt: Date.now() + ttlMs }
      const tag = userTag(link, userId)
      await link.client.eval(WRITE, 2, `${tag}:g`, `${tag}:o:${organizationId}`, version, freshGeneration('w'), JSON.stringify(stored), Math.ceil(ttlMs))
    },
    async revoke (userId) {
      await link.client.multi()
        .set(`${userTag(link, userId)}:g`, freshGeneration('r'), 'PX', opts.revocationHoldMs)
        .del(legacyKey(link, userId))
        .exec()
    }
  }
}

/** Evictions published to every instance of the fleet, this one included. */
export interface EvictionBus {
  /** Invalidates the shared answers, then tells every instance to drop its own copy. */
  publish: (eviction: Eviction) => Promise<void>
  close: () => Promise<void>
}

function channel (link: RedisLink): string {
  return `${link.keyPrefix}membership:evict`
}

export interface EvictionHandlers {
  /** An eviction published by any instance, this one included. */
  onEviction: (eviction: Eviction) => void
  /**
   * The subscription is (again) in place. Pub/sub delivers a message once, to whoever is
   * subscribed at that moment: evictions published while this instance was not may be lost, so
   * it should drop its local copies (Redis itself holds the revocations). `again` is false the
   * first time.
   */
  onSubscribed: (again: boolean) => void
  /** The subscription was lost (connection closed, or found dead by the probe). */
  onLost: (reason: string) => void
  /** An eviction from an instance of an earlier release could not be written to Redis. */
  onRevokeFailed: (err: Error) => void
}

export interface ProbeOptions {
  /** How often the subscriber is pinged; a connection a NAT or balancer dropped says nothing. */
  everyMs: number
  /** No answer within this: the connection is dropped and made again. */
  timeoutMs: number
}

const PROBE: ProbeOptions = { everyMs: 15_000, timeoutMs: 5_000 }

/**
 * Subscribes to the fleet's eviction channel; each message is handed to `onEviction`. A message
 * from an instance of a release before generations (no `"v": 2`) cleared only the old hash: the
 * instance that receives it also revokes in `store`, so a rolling upgrade loses no revocation.
 */
export function createEvictionBus (link: RedisLink, store: RedisMembershipStore, handlers: EvictionHandlers, probe: ProbeOptions = PROBE): EvictionBus {
  const name = channel(link)
  const subscriber = link.subscriber
  function onMessage (from: string, message: string): void {
    if (from !== name) return
    const parsed = parseEviction(message)
    if (parsed === null) return
    if (!parsed.current) {
      // Evicted now, and again once the revocation is in Redis: a request in between would read
      // the old answer from Redis and keep it.
      store.revoke(parsed.eviction.userId).then(() => { handlers.onEviction(parsed.eviction) }, (err: Error) => { handlers.onRevokeFailed(err) })
    }
    handlers.onEviction(parsed.eviction)
  }

  // ioredis sends the SUBSCRIBE of a reconnection before it emits 'ready'; a PING sent after
  // comes back once the SUBSCRIBE has been done. In subscribe mode Redis answers it
  // ['pong', '']; outside it, 'PONG'. The first SUBSCRIBE is sent from here, on a ready
  // connection only: one sent during the handshake reaches Redis before ioredis's ready check
  // (INFO), which Redis refuses on a subscribed connection; ioredis then drops the connection
  // and, the connection never having been ready, forgets the subscription for good. A connection
  // found outside subscribe mode is subscribed (again); a SUBSCRIBE that Redis refuses (a Redis
  // user without the channel in its ACL) is reported, never taken for a subscription.
  let closed = false
  let subscribedBefore = false
  let up = false
  function confirm (subscribedNow = false): void {
    subscriber.ping().then(reply => {
      if (closed || subscriber.status !== 'ready') return
      if (Array.isArray(reply)) {
        up = true
        handlers.onSubscribed(subscribedBefore)
        subscribedBefore = true
        return
      }
      if (subscribedNow) {
        handlers.onLost('connected but not subscribed (SUBSCRIBE answered, the connection still outside subscribe mode)')
        return
      }
      subscriber.subscribe(name).then(() => { if (!closed) confirm(true) }, (err: Error) => {
        // A connection lost meanwhile is confirmed again on its next 'ready'.
        if (closed || err.name !== 'ReplyError') return
        handlers.onLost(`connected but not subscribed (${err.message}): check the Redis user's channel permissions`)
      })
    }, () => {})
  }
  function onReady (): void {
    setImmediate(() => { confirm() })
  }
  function onClose (): void {
    if (up) handlers.onLost('connection closed')
    up = false
  }
  // The probe: a connection that went dead says nothing (a NAT or balancer forgot it).
  let deadline: NodeJS.Timeout | undefined
  const timer = setInterval(() => {
    if (closed || deadline !== undefined || subscriber.status !== 'ready') return
    deadline = setTimeout(() => {
      deadline = undefined
      if (closed) return
      if (up) handlers.onLost(`no answer to a ping within ${probe.timeoutMs} ms`)
      up = false
      subscriber.disconnect(true)
    }, probe.timeoutMs)
    const answered = (): void => {
      clearTimeout(deadline)
      deadline = undefined
    }
    subscriber.ping().then(answered, answered)
  }, probe.everyMs).unref()

  subscriber.on('message', onMessage)
  subscriber.on('ready', onReady)
  subscriber.on('close', onClose)
  // The first SUBSCRIBE goes from confirm(); ioredis makes it again after each reconnect.
  if (subscriber.status === 'ready') onReady()
  return {
    async publish (eviction) {
      await store.revoke(eviction.userId)
      await link.client.publish(name, JSON.stringify({ ...eviction, v: 2 }))
    },
    async close () {
      closed = true
      clearInterval(timer)
      clearTimeout(deadline)
      subscriber.off('message', onMessage)
      subscriber.off('ready', onReady)
      subscriber.off('close', onClose)
    }
  }
}

function parseEviction (message: string): { eviction: Eviction, current: boolean } | null {
  try {
    const value = JSON.parse(message) as Partial<Eviction> & { v?: unknown }
    if (typeof value.userId !== 'string') return null
    const eviction = typeof value.organizationId === 'string' ? { userId: value.userId, organizationId: value.organizationId } : { userId: value.userId }
    return { eviction, current: value.v === 2 }
  } catch {
    return null
  }
}
