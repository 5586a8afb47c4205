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

export interface MembershipCacheOptions {
  lookup: MembershipLookup
  ttlMs: number
  negativeTtlMs: number
  max: number
  retryAfterSeconds: number
}

export interface MembershipCache {
  /** The active membership, or null; throws GW_MEMBERSHIP_UNAVAILABLE when the source can't say. */
  get: (userId: string, organizationId: string) => Promise<Membership | null>
  /** Forgets one (user, org) so the next request asks the source again. */
  evict: (userId: string, organizationId: string) => void
  clear: () => void
}

const NOT_A_MEMBER = Object.freeze({ member: false }) as { member: false }
type Entry = { member: true, membership: Membership } | { member: false }

/**
 * A bounded cache in front of a lookup: members for `ttlMs`, non-members for `negativeTtlMs`,
 * failures never; concurrent look-ups of one (user, org) share one call.
 */
export function createMembershipCache (opts: MembershipCacheOptions): MembershipCache {
  const cache = new LRUCache<string, Entry>({ max: opts.max, ttl: opts.ttlMs, ttlAutopurge: false })
  const inflight = new Map<string, Promise<Entry>>()

  async function load (key: string, userId: string, organizationId: string): Promise<Entry> {
    const membership = await opts.lookup(userId, organizationId)
    const entry: Entry = membership === null ? NOT_A_MEMBER : { member: true, membership }
    const ttl = entry.member ? opts.ttlMs : opts.negativeTtlMs
    // lru-cache reads a ttl of 0 as "never expires"; an operator who sets 0 means "do not cache".
    if (ttl > 0) cache.set(key, entry, { ttl })
    return entry
  }

  async function get (userId: string, organizationId: string): Promise<Membership | null> {
    const key = `${organizationId}\u0000${userId}`
    let entry = cache.get(key)
    if (entry === undefined) {
      let pending = inflight.get(key)
      if (pending === undefined) {
        // Deleted a tick later, so a lookup that throws at once is not left in flight forever.
        pending = load(key, userId, organizationId).finally(() => inflight.delete(key))
        inflight.set(key, pending)
      }
      try {
        entry = await pending
      } catch (err) {
        const retryAfter = err instanceof MembershipUnavailableError && err.retryAfterSeconds !== undefined
          ? err.retryAfterSeconds
          : opts.retryAfterSeconds
        throw gatewayError('GW_MEMBERSHIP_UNAVAILABLE', 'the membership service is unavailable, try again later', { 'retry-after': String(retryAfter) })
      }
    }
    return entry.member ? entry.membership : null
  }

  return {
    get,
    evict: (userId, organizationId) => { cache.delete(`${organizationId}\u0000${userId}`) },
    clear: () => { cache.clear() }
  }
}

/** True when the membership may use a tenant that admits only `allowedRoles` (undefined: all). */
export function roleAllowed (membership: Membership, allowedRoles: readonly string[] | undefined): boolean {
  if (allowedRoles === undefined) return true
  return membership.roles.some(role => allowedRoles.includes(role))
}
