import { createPublicKey } from 'node:crypto'
import type { JsonWebKey } from 'node:crypto'
import buildGetJwks from 'get-jwks'
import type { JWK } from 'get-jwks'
import { gatewayError } from './errors.ts'
import { fetchJson } from './fetch-json.ts'

const FAILURE_BACKOFF_MS = 2000

function unavailable (): Error {
  return gatewayError('GW_JWKS_UNAVAILABLE', 'the signing keys could not be fetched')
}

export interface KeyStoreOptions {
  issuer: string
  jwksUrl: string
  timeoutMs: number
  cacheTtlMs: number
  refetchCooldownMs: number
  fetch?: typeof fetch
  now?: () => number
}

/** AuthKit's signing keys, held in get-jwks' cache, with the refetch policy a gateway needs. */
export interface KeyStore {
  /** The PEM public key for a token header; throws GW_TOKEN_INVALID or GW_JWKS_UNAVAILABLE. */
  getKey: (header: { kid?: unknown, alg?: unknown }) => Promise<string>
  /** Fetches the JWKS now (one fetch at a time), seeding every key it holds. */
  refresh: () => Promise<void>
  /**
   * The same, but within the backoff after a failed fetch it fails at once without fetching: for
   * callers anyone may repeat at will (a readiness probe on the public port).
   */
  retry: () => Promise<void>
  /** True once a JWKS fetch has succeeded. */
  readonly ready: boolean
  /** How many JWKS fetches were started. */
  readonly fetches: number
}

/**
 * get-jwks fetches the whole JWKS again for every unknown kid, trusts the token's `iss` as the
 * domain, and its `timeout` is ignored by native fetch. Here the domain is fixed to the configured
 * issuer, one fetch seeds every key, an unknown kid triggers at most one fetch per cooldown, and
 * each fetch is bounded by an AbortSignal timeout.
 */
export function createKeyStore (opts: KeyStoreOptions): KeyStore {
  const doFetch = opts.fetch ?? fetch
  const now = opts.now ?? Date.now
  const domain = opts.issuer + '/'
  const getJwks = buildGetJwks({ issuersWhitelist: [domain], ttl: opts.cacheTtlMs, max: 50 })
  const pems = new WeakMap<object, string>()
  // The key set of the last good fetch, with no TTL: what a token may still be checked against
  // while AuthKit is down, however long (get-jwks' own stale copy expires one TTL after the fresh
  // entry does). Replaced whole by the next good fetch, so a key AuthKit retires goes with it.
  let lastGood = new Map<string, JWK>()
  let inflight: Promise<void> | null = null
  let lastFetchAt = -Infinity
  let lastFetchFailed = false
  let ready = false
  let fetches = 0

  async function fetchKeys (): Promise<void> {
    fetches++
    lastFetchFailed = true
    try {
      let body: { keys?: unknown }
      try {
        body = await fetchJson(doFetch, opts.jwksUrl, opts.timeoutMs) as { keys?: unknown }
        if (!Array.isArray(body.keys)) throw new Error('no keys')
      } catch {
        throw unavailable()
      }
      const usable = new Map<string, JWK>()
      for (const jwk of body.keys as JWK[]) {
        if (jwk?.kty !== 'RSA' || typeof jwk.kid !== 'string' || (jwk.alg !== undefined && jwk.alg !== 'RS256')) continue
        if (jwk.use !== undefined && jwk.use !== 'sig') continue
        try {
          toPem(jwk)
        } catch {
          continue
        }
        usable.set(jwk.kid, jwk)
      }
      // A set with no key this gateway can use is AuthKit failing, not every token turning
      // invalid: a 503, and the keys of the last good fetch stay.
      if (usable.size === 0) throw unavailable()
      lastFetchFailed = false
      // A key the new set no longer lists is retired: not served again, even while its cache entry lasts.
      for (const kid of lastGood.keys()) if (!usable.has(kid)) getJwks.cache.delete(cacheKey(kid))
      lastGood = usable
      for (const [kid, jwk] of usable) getJwks.cache.set(cacheKey(kid), jwk)
      ready = true
    } finally {
      // From the end of the fetch: a JWKS that hangs until the timeout must not leave the
      // backoff already spent, with every request waiting out the next timeout.
      lastFetchAt = now()
    }
  }

  function refresh (): Promise<void> {
    inflight ??= fetchKeys().finally(() => { inflight = null })
    return inflight
  }

  function retry (): Promise<void> {
    if (lastFetchFailed && coolingDown()) return Promise.reject(unavailable())
    return refresh()
  }

  function cacheKey (kid: string): string {
    return getJwks.generateCacheKey('RS256', kid, domain)
  }

  function toPem (jwk: JWK): string {
    let pem = pems.get(jwk)
    if (pem === undefined) {
      pem = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString()
      pems.set(jwk, pem)
    }
    return pem
  }

  /** True while no new fetch may start: the cooldown after a good fetch, the failure backoff (2 s, whatever the cooldown) after a failed one. */
  function coolingDown (): boolean {
    return inflight === null && now() - lastFetchAt < (lastFetchFailed ? FAILURE_BACKOFF_MS : opts.refetchCooldownMs)
  }

  async function getKey (header: { kid?: unknown, alg?: unknown }): Promise<string> {
    if (header.alg !== 'RS256') throw gatewayError('GW_TOKEN_INVALID', 'the token must be signed with RS256')
    const kid = header.kid
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256) throw gatewayError('GW_TOKEN_INVALID', 'the token header has no usable key id')
    const key = cacheKey(kid)
    const fresh = getJwks.cache.get(key) as JWK | undefined
    if (fresh !== undefined) return toPem(fresh)
    const stale = lastGood.get(kid)
    if (stale !== undefined) {
      // A known key whose cache entry aged out: kept while AuthKit is down (retried once per
      // backoff, not per request), dropped once AuthKit answers without it (retired).
      if (lastFetchFailed && coolingDown()) return toPem(stale)
      try { await refresh() } catch { return toPem(stale) }
      const renewed = getJwks.cache.get(key) as JWK | undefined
      if (renewed !== undefined) return toPem(renewed)
      throw gatewayError('GW_TOKEN_INVALID', 'the token is signed with an unknown key')
    }
    // A flood of made-up kids costs one fetch per cooldown; after a failed fetch the answer is
    // 503 (we could not check), after a good one the kid is simply unknown.
    if (coolingDown()) {
      if (lastFetchFailed) throw unavailable()
      throw gatewayError('GW_TOKEN_INVALID', 'the token is signed with an unknown key')
    }
    await refresh()
    const found = getJwks.cache.get(key) as JWK | undefined
    if (found === undefined) throw gatewayError('GW_TOKEN_INVALID', 'the token is signed with an unknown key')
    return toPem(found)
  }

  return {
    getKey,
    refresh,
    retry,
    get ready () { return ready },
    get fetches () { return fetches }
  }
}
