import { LRUCache } from 'lru-cache'

export interface VerifiedTokenCacheOptions {
  max: number
  /** No entry lives longer than this, even when its token's `exp` is further away. */
  maxTtlMs: number
}

/** Tokens whose signature and time claims have been verified, keyed by the Authorization header. */
export interface VerifiedTokenCache {
  get: (authorization: string) => Record<string, unknown> | undefined
  set: (authorization: string, claims: Record<string, unknown>) => void
}

/**
 * The hot path's shortcut: a token verified once is not decoded, hashed and verified again.
 * Bounded in size, and an entry never outlives its token's `exp` (nor `maxTtlMs`, so a key
 * AuthKit retires stops working within that time).
 */
export function createVerifiedTokenCache (opts: VerifiedTokenCacheOptions): VerifiedTokenCache {
  const cache = new LRUCache<string, Record<string, unknown>>({ max: opts.max })
  return {
    get: authorization => cache.get(authorization),
    set (authorization, claims) {
      const exp = claims.exp
      if (typeof exp !== 'number') return
      const ttl = Math.min(opts.maxTtlMs, Math.floor(exp * 1000 - Date.now()))
      if (ttl > 0) cache.set(authorization, claims, { ttl })
    }
  }
}
