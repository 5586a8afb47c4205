import { LRUCache } from 'lru-cache'
import { gatewayError } from './errors.ts'

/** An active membership of a user in an organization, with its role slugs. */
export interface Membership {
  roles: readonly string[]
}

/** Looks a membership up at the source; null when the user is not an active member. */
export type MembershipLookup = (userId: string, organizationId: string) => Promise<Membership | null>

/** The lookup failed (down, slow, rate-limited): never taken as "not a member". */
export class MembershipUnavailableError extends Error {
  readonly retryAfterSeconds: number | undefined
  constructor (message: string, retryAfterSeconds?: number) {
    super(message)
    this.name = 'MembershipUnavailableError'
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** A cached answer: a member with their roles, or not a member. */
export type MembershipEntry = { member: true, membership: Membership } | { member: false }

/** What the shared tier holds for a (user, org): the answer if any, and the version it was read at. */
export interface SharedLookup {
  found?: { entry: MembershipEntry, ttlMs: number }
  /**
   * Handed back to `set` with what the source said: the store drops that write when a revocation
   * came in between (on any instance), so an answer learnt before it is never shared after it.
   */
  version: string
}

/**
 * A second tier that several instances share (Redis). `get` throws when the store cannot answer:
 * the cache then fails closed rather than ask the source on its own word.
 */
export interface SharedMembershipStore {
  get: (userId: string, organizationId: string) => Promise<SharedLookup>
  set: (userId: string, organizationId: string, entry: MembershipEntry, ttlMs: number, version: string) => Promise<void>
}

export interface MembershipCacheOptions {
  lookup: MembershipLookup
  ttlMs: number
  negativeTtlMs: number
  max: number
  retryAfterSeconds: number
  shared?: SharedMembershipStore
  /** Told when the shared store failed (a read refused the request, a write was skipped). */
  onSharedError?: (err: Error) => void
  /**
   * Look-ups at the source one user may cause a minute (0: no limit). Past it, that user's
   * uncached (user, org) pairs get 429 until the minute ends; cached answers still come.
   */
  lookupsPerUserPerMinute?: number
  now?: () => number
}

/** Look-ups so far: answered from a cache tier, from the source, or not at all. */
export interface MembershipStats {
  hit: number
  miss: number
  error: number
}

export interface MembershipCache {
  /**
   * The active membership, or null; rejects with GW_MEMBERSHIP_UNAVAILABLE when the source can't
   * say. A locally cached answer comes at once, without a promise.
   */
  get: (userId: string, organizationId: string) => Membership | null | Promise<Membership | null>
  /**
   * Forgets one (user, org), or every organization of a user, on this instance, so the next
   * request asks again; a look-up in flight meanwhile answers those already waiting for it, is
   * not cached, and is not joined by later requests.
   */
  evict: (userId: string, organizationId?: string) => void
  /** Forgets every answer on this instance, as `evict` does one user's. */
  clear: () => void
  readonly stats: Readonly<MembershipStats>
}

const NOT_A_MEMBER = Object.freeze({ member: false }) as { member: false }
const MINUTE_MS = 60_000

/** A user used up their look-ups for this minute: a 429, not the source failing. */
class LookupBudgetSpent extends Error {
  readonly retryAfterSeconds: number
  constructor (retryAfterSeconds: number) {
    super('too many membership look-ups for this user')
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/**
 * A bounded cache in front of a lookup: members for `ttlMs`, non-members for `negativeTtlMs`,
 * failures never; concurrent look-ups of one (user, org) share one call. With a shared store,
 * a local miss asks it before the source, and what the source says is written to both.
 */
export function createMembershipCache (opts: MembershipCacheOptions): MembershipCache {
  // Each user's keys in the cache: a deleted user's entries are found without a walk through the
  // whole cache (up to MEMBERSHIP_CACHE_MAX entries, for each of the evictions a webhook makes).
  // Kept in step by the cache itself: every way out of it (evicted, expired, deleted, cleared)
  // passes through `dispose`; an overwrite ('set') keeps the key.
  const keysOf = new Map<string, Set<string>>()
  const cache = new LRUCache<string, MembershipEntry>({
    max: opts.max,
    ttl: opts.ttlMs,
    ttlAutopurge: false,
    dispose: (_entry, key, reason) => { if (reason !== 'set') unindex(key) }
  })
  function unindex (key: string): void {
    const userId = key.slice(key.indexOf('\u0000') + 1)
    const keys = keysOf.get(userId)
    if (keys === undefined) return
    keys.delete(key)
    if (keys.size === 0) keysOf.delete(userId)
  }
  const inflight = new Map<string, Promise<MembershipEntry>>()
  const stats: MembershipStats = { hit: 0, miss: 0, error: 0 }
  // A look-up that started before an eviction of its user must not cache what it learnt. Counted
  // per user, so that a storm of other users' evictions (a directory sync deprovisioning
  // hundreds) does not leave every look-up uncached and send each request to WorkOS again. The
  // per-user counts are bounded; one pushed out bumps `clears`, as `clear()` does, so a look-up
  // under way then keeps nothing: never a stale answer, at worst one look-up more.
  let clears = 0
  const userEvictions = new LRUCache<string, number>({
    max: opts.max,
    dispose: (_count, _userId, reason) => { if (reason === 'evict') clears++ }
  })
  function generation (userId: string): { clears: number, user: number } {
    return { clears, user: userEvictions.get(userId) ?? 0 }
  }
  function unchanged (userId: string, since: { clears: number, user: number }): boolean {
    return clears === since.clears && (userEvictions.get(userId) ?? 0) === since.user
  }
  // Each user's look-ups at the source in the current minute. Any signed-in user may name any
  // organization in the URL: without a budget, one token and made-up organization ids cost one
  // WorkOS call a request, until WorkOS rate-limits the gateway's key and every uncached user
  // gets 503. Bounded like the cache; a user pushed out simply starts a new minute.
  const budget = opts.lookupsPerUserPerMinute ?? 0
  const now = opts.now ?? Date.now
  const spent = new LRUCache<string, { since: number, count: number }>({ max: opts.max })

  // WorkOS answered "too many requests, come back in N s": until then it is not asked again (each
  // uncached look-up gets 503 at once, with what is left of N), rather than deepen the limit.
  let pausedUntil = -Infinity

  async function fromSource (userId: string, organizationId: string): Promise<Membership | null> {
    const t = now()
    if (t < pausedUntil) throw new MembershipUnavailableError('the membership source asked us to wait', Math.ceil((pausedUntil - t) / 1000))
    charge(userId)
    try {
      return await opts.lookup(userId, organizationId)
    } catch (err) {
      // Only a rate limit comes with a Retry-After (lib/workos.ts).
      if (err instanceof MembershipUnavailableError && err.retryAfterSeconds !== undefined) {
        pausedUntil = Math.max(pausedUntil, now() + err.retryAfterSeconds * 1000)
      }
      throw err
    }
  }

  function charge (userId: string): void {
    if (budget <= 0) return
    const t = now()
    let used = spent.get(userId)
    if (used === undefined || t - used.since >= MINUTE_MS) {
      used = { since: t, count: 0 }
      spent.set(userId, used)
    }
    if (used.count >= budget) throw new LookupBudgetSpent(Math.max(1, Math.ceil((used.since + MINUTE_MS - t) / 1000)))
    used.count++
  }

  function keep (key: string, userId: string, entry: MembershipEntry, ttlMs: number): void {
    // lru-cache reads a ttl of 0 as "never expires"; an operator who sets 0 means "do not cache".
    if (ttlMs <= 0) return
    cache.set(key, entry, { ttl: ttlMs })
    let keys = keysOf.get(userId)
    if (keys === undefined) keysOf.set(userId, keys = new Set())
    keys.add(key)
  }

  async function fromShared (userId: string, organizationId: string): Promise<SharedLookup> {
    try {
      return await (opts.shared as SharedMembershipStore).get(userId, organizationId)
    } catch (err) {
      opts.onSharedError?.(err as Error)
      throw new MembershipUnavailableError('the shared membership cache is unreachable')
    }
  }

  async function load (key: string, userId: string, organizationId: string): Promise<{ entry: MembershipEntry, cached: boolean }> {
    const before = generation(userId)
    let version = ''
    if (opts.shared !== undefined) {
      const shared = await fromShared(userId, organizationId)
      if (shared.found !== undefined) {
        if (unchanged(userId, before)) keep(key, userId, shared.found.entry, shared.found.ttlMs)
        return { entry: shared.found.entry, cached: true }
      }
      version = shared.version
    }
    const membership = await fromSource(userId, organizationId)
    const entry: MembershipEntry = membership === null ? NOT_A_MEMBER : { member: true, membership }
    const ttl = entry.member ? opts.ttlMs : opts.negativeTtlMs
    if (ttl > 0 && unchanged(userId, before)) {
      keep(key, userId, entry, ttl)
      opts.shared?.set(userId, organizationId, entry, ttl, version).catch(err => opts.onSharedError?.(err as Error))
    }
    return { entry, cached: false }
  }

  function get (userId: string, organizationId: string): Membership | null | Promise<Membership | null> {
    const key = `${organizationId}\u0000${userId}`
    const entry = cache.get(key)
    if (entry === undefined) return getMissing(key, userId, organizationId)
    stats.hit++
    return entry.member ? entry.membership : null
  }

  async function getMissing (key: string, userId: string, organizationId: string): Promise<Membership | null> {
    let pending = inflight.get(key)
    if (pending === undefined) {
      // Deleted a tick later, so a lookup that throws at once is not left in flight forever; and
      // only if it is still this one (an eviction may have made way for a newer one).
      const started: Promise<MembershipEntry> = load(key, userId, organizationId).then(r => {
        if (r.cached) stats.hit++
        else stats.miss++
        return r.entry
      }, err => {
        if (!(err instanceof LookupBudgetSpent)) stats.error++
        throw err
      }).finally(() => {
        if (inflight.get(key) === started) inflight.delete(key)
      })
      pending = started
      inflight.set(key, started)
    }
    let entry: MembershipEntry
    try {
      entry = await pending
    } catch (err) {
      if (err instanceof LookupBudgetSpent) {
        throw gatewayError('GW_RATE_LIMITED', 'too many organizations looked up for this user, retry later', { 'retry-after': String(err.retryAfterSeconds) })
      }
      const retryAfter = err instanceof MembershipUnavailableError && err.retryAfterSeconds !== undefined
        ? err.retryAfterSeconds
        : opts.retryAfterSeconds
      throw gatewayError('GW_MEMBERSHIP_UNAVAILABLE', 'the membership service is unavailable, try again later', { 'retry-after': String(retryAfter) })
    }
    return entry.member ? entry.membership : null
  }

  // A look-up under way is forgotten too: a request that comes after the eviction asks again
  // rather than join one begun before it (those already waiting get that one's answer).
  function evict (userId: string, organizationId?: string): void {
    userEvictions.set(userId, (userEvictions.get(userId) ?? 0) + 1)
    if (organizationId !== undefined) {
      const key = `${organizationId}\u0000${userId}`
      cache.delete(key)
      inflight.delete(key)
      return
    }
    for (const key of [...keysOf.get(userId) ?? []]) cache.delete(key)
    const suffix = `\u0000${userId}`
    // Only the look-ups under way: a few.
    for (const key of [...inflight.keys()]) {
      if (key.endsWith(suffix)) inflight.delete(key)
    }
  }

  return {
    get,
    evict,
    clear () {
      clears++
      cache.clear()
      inflight.clear()
    },
    stats
  }
}

/** True when the membership may use a tenant that admits only `allowedRoles` (undefined: all). */
export function roleAllowed (membership: Membership, allowedRoles: readonly string[] | undefined): boolean {
  if (allowedRoles === undefined) return true
  return membership.roles.some(role => allowedRoles.includes(role))
}
