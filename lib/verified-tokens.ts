import { LRUCache } from 'lru-cache'

export interface VerifiedTokenCacheOptions {
  max: number
  /** No entry lives longer than this, even when its token's `exp` is further away. */
  maxTtlMs: number
}

/** Tokens whose signature and time claims have been verified, keyed by the Authorization header. */
export interface VerifiedTokenCache<U> {
  get: (authorization: string) => Record<string, unknown> | undefined
  set: (authorization: string, claims: Record<string, unknown>) => void
  /**
   * What `check` makes of a cached token's claims for `org` (the user it names, once its audience
   * is checked for that tenant). A check that depends on the claims and the tenant only: its
   * answer is kept with the entry for the last tenant asked, so the next request for it does not
   * check again. Undefined if the token is not cached or `check` throws (nothing is kept then).
   */
  userFor: (authorization: string, org: string, check: (claims: Record<string, unknown>, org: string) => U) => U | undefined
}

interface Entry<U> {
  authorization: string
  claims: Record<string, unknown>
  org: string | undefined
  user: U | undefined
}

/**
 * The cache is looked up by the header's last characters (the end of the token's signature), and
 * an entry answers only the exact header it was made for. The header arrives as a new string on
 * every request, and a Map hashes every character of its key: for a JWT of ~800 characters that
 * hashing cost about 1 µs here, more than the rest of the look-up. A header with the same ending
 * and anything else different is simply not found.
 */
const KEY_CHARS = 32

/**
 * The hot path's shortcut: a token verified once is not decoded, hashed and verified again.
 * Bounded in size, and an entry never outlives its token's `exp` (nor `maxTtlMs`, so a key
 * AuthKit retires stops working within that time).
 */
export function createVerifiedTokenCache<U> (opts: VerifiedTokenCacheOptions): VerifiedTokenCache<U> {
  const cache = new LRUCache<string, Entry<U>>({ max: opts.max })

  function entryOf (authorization: string): Entry<U> | undefined {
    const entry = cache.get(authorization.slice(-KEY_CHARS))
    return entry !== undefined && entry.authorization === authorization ? entry : undefined
  }

  return {
    get: authorization => entryOf(authorization)?.claims,
    set (authorization, claims) {
      const exp = claims.exp
      if (typeof exp !== 'number') return
      const ttl = Math.min(opts.maxTtlMs, Math.floor(exp * 1000 - Date.now()))
      if (ttl > 0) cache.set(authorization.slice(-KEY_CHARS), { authorization, claims, org: undefined, user: undefined }, { ttl })
    },
    userFor (authorization, org, check) {
      const entry = entryOf(authorization)
      if (entry === undefined) return undefined
      if (entry.org === org) return entry.user
      let user: U
      try {
        user = check(entry.claims, org)
      } catch {
        return undefined
      }
      entry.org = org
      entry.user = user
      return user
    }
  }
}
