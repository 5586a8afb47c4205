import { generateKeyPairSync } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { Test } from 'tap'
import { createKeyStore } from '../../lib/jwks.ts'
import type { KeyStore, KeyStoreOptions } from '../../lib/jwks.ts'
import { GatewayError } from '../../lib/errors.ts'
import { newSigningKey, startAuthKit } from '../fixtures/authkit.ts'
import { listen, sendJson } from '../fixtures/listen.ts'
import type { AuthKitDouble, SigningKey } from '../fixtures/authkit.ts'

const COOLDOWN_MS = 30_000

interface Setup {
  authkit: AuthKitDouble
  store: KeyStore
  /** The store's clock: tests move it forward by hand. */
  clock: { ms: number }
}

async function setup (t: Test, options: Partial<KeyStoreOptions> = {}): Promise<Setup> {
  const authkit = await startAuthKit()
  t.teardown(() => authkit.close())
  const clock = { ms: 1_000_000 }
  const store = createKeyStore({
    issuer: authkit.issuer,
    jwksUrl: `${authkit.issuer}/oauth2/jwks`,
    timeoutMs: 2000,
    cacheTtlMs: 600_000,
    refetchCooldownMs: COOLDOWN_MS,
    now: () => clock.ms,
    ...options
  })
  return { authkit, store, clock }
}

function pemOf (key: SigningKey): string {
  return key.publicKey.export({ type: 'spki', format: 'pem' }).toString()
}

function header (kid: unknown, ...alg: unknown[]): { kid?: unknown, alg?: unknown } {
  return { kid, alg: alg.length === 0 ? 'RS256' : alg[0] }
}

async function rejectsWith (t: Test, promise: Promise<unknown>, code: string, what: string): Promise<GatewayError | undefined> {
  try {
    await promise
  } catch (err) {
    t.ok(err instanceof GatewayError, `${what}: a GatewayError`)
    t.equal((err as GatewayError).code, code, what)
    return err as GatewayError
  }
  t.fail(`${what}: expected a rejection with ${code}`)
}

t.test('refresh seeds every key of the JWKS with one fetch', async t => {
  const { authkit, store } = await setup(t)
  const first = authkit.key
  const second = authkit.addKey()
  t.equal(store.ready, false, 'not ready before any fetch')
  await store.refresh()
  t.equal(store.ready, true)
  t.equal(store.fetches, 1)
  t.equal(authkit.jwksRequests, 1)
  t.equal(await store.getKey(header(first.kid)), pemOf(first))
  t.equal(await store.getKey(header(second.kid)), pemOf(second))
  t.equal(authkit.jwksRequests, 1, 'both keys came from the cache')
})

t.test('concurrent refreshes share one fetch', async t => {
  const { authkit, store } = await setup(t)
  await Promise.all([store.refresh(), store.refresh(), store.refresh()])
  t.equal(store.fetches, 1)
  t.equal(authkit.jwksRequests, 1)
})

t.test('a first look-up fetches the JWKS, and concurrent look-ups share the fetch', async t => {
  const { authkit, store } = await setup(t)
  const pems = await Promise.all(Array.from({ length: 10 }, () => store.getKey(header(authkit.key.kid))))
  t.same(new Set(pems), new Set([pemOf(authkit.key)]))
  t.equal(authkit.jwksRequests, 1)
  t.equal(store.ready, true)
})

t.test('a token algorithm other than RS256 is refused without a fetch', async t => {
  const { authkit, store } = await setup(t)
  await store.refresh()
  for (const alg of ['HS256', 'none', 'RS384', 'PS256', 'ES256', 'rs256', undefined, 7]) {
    await rejectsWith(t, store.getKey(header(authkit.key.kid, alg)), 'GW_TOKEN_INVALID', `alg ${String(alg)}`)
  }
  t.equal(authkit.jwksRequests, 1)
})

t.test('a header without a usable kid is refused without a fetch', async t => {
  const { authkit, store } = await setup(t)
  await store.refresh()
  for (const kid of [undefined, '', 42, null, ['a'], 'k'.repeat(257)]) {
    await rejectsWith(t, store.getKey(header(kid)), 'GW_TOKEN_INVALID', `kid ${JSON.stringify(kid)?.slice(0, 20)}`)
  }
  t.equal(authkit.jwksRequests, 1)
})

t.test('only RS256 signing keys of the JWKS are served', async t => {
  const authkit = await startAuthKit()
  t.teardown(() => authkit.close())
  const rsa = (key: SigningKey) => key.publicKey.export({ format: 'jwk' })
  const good = authkit.key
  const others = [newSigningKey(), newSigningKey(), newSigningKey(), newSigningKey()]
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })
  // A JWKS of our own, on a real socket, listing keys the store must skip.
  const jwks = await listen((_req, res) => sendJson(res, 200, {
    keys: [
      { ...rsa(good), kid: good.kid, alg: 'RS256', use: 'sig' },
      { ...rsa(others[0]), kid: others[0].kid, alg: 'RS384', use: 'sig' },
      { ...rsa(others[1]), kid: others[1].kid, alg: 'RS256', use: 'enc' },
      { ...rsa(others[2]) },
      { kty: 'RSA', n: rsa(others[3]).n, kid: others[3].kid, alg: 'RS256' },
      { ...ec, kid: 'ec_key', alg: 'ES256', use: 'sig' },
      { ...ec, kid: 'ec_key_no_alg' },
      null,
      'garbage'
    ]
  }))
  t.teardown(() => jwks.close())
  const store = createKeyStore({ issuer: authkit.issuer, jwksUrl: jwks.url, timeoutMs: 2000, cacheTtlMs: 600_000, refetchCooldownMs: COOLDOWN_MS })
  await store.refresh()
  t.equal(await store.getKey(header(good.kid)), pemOf(good))
  for (const kid of [others[0].kid, others[1].kid, others[3].kid, 'ec_key', 'ec_key_no_alg']) {
    await rejectsWith(t, store.getKey(header(kid)), 'GW_TOKEN_INVALID', `skipped key ${kid}`)
  }
})

t.test('a JWKS answer without a key list counts as a failed fetch', async t => {
  const jwks = await listen((_req, res) => sendJson(res, 200, { error: 'something went wrong' }))
  t.teardown(() => jwks.close())
  const store = createKeyStore({ issuer: 'https://authkit.test', jwksUrl: jwks.url, timeoutMs: 2000, cacheTtlMs: 600_000, refetchCooldownMs: COOLDOWN_MS })
  await rejectsWith(t, store.refresh(), 'GW_JWKS_UNAVAILABLE', 'a 200 without keys')
  t.equal(store.ready, false)
})

t.test('unknown kids cost at most one fetch per cooldown', async t => {
  const { authkit, store, clock } = await setup(t)
  await store.refresh()
  for (let i = 0; i < 20; i++) {
    await rejectsWith(t, store.getKey(header(`kid_unknown_${i}`)), 'GW_TOKEN_INVALID', `unknown kid ${i}`)
  }
  t.equal(store.fetches, 1, 'no fetch within the cooldown after the first one')

  clock.ms += COOLDOWN_MS - 1
  await rejectsWith(t, store.getKey(header('kid_unknown_x')), 'GW_TOKEN_INVALID', 'just before the cooldown ends')
  t.equal(store.fetches, 1)

  clock.ms += 1
  await Promise.all(Array.from({ length: 20 }, (_, i) =>
    rejectsWith(t, store.getKey(header(`kid_flood_${i}`)), 'GW_TOKEN_INVALID', `flood kid ${i}`)))
  t.equal(store.fetches, 2, 'one fetch once the cooldown is over, shared by the whole flood')
  t.equal(authkit.jwksRequests, 2)

  await rejectsWith(t, store.getKey(header('kid_unknown_y')), 'GW_TOKEN_INVALID', 'right after that fetch')
  t.equal(store.fetches, 2)
})

t.test('a rotated-in key is found by one fetch once the cooldown allows it', async t => {
  const { authkit, store, clock } = await setup(t)
  await store.refresh()
  const next = authkit.addKey()
  await rejectsWith(t, store.getKey(header(next.kid)), 'GW_TOKEN_INVALID', 'within the cooldown the new kid is unknown')
  t.equal(authkit.jwksRequests, 1)
  clock.ms += COOLDOWN_MS
  t.equal(await store.getKey(header(next.kid)), pemOf(next))
  t.equal(authkit.jwksRequests, 2)
  t.equal(await store.getKey(header(next.kid)), pemOf(next))
  t.equal(authkit.jwksRequests, 2, 'then it is cached')
})

t.test('a failed fetch gives GW_JWKS_UNAVAILABLE, a 503 that names no host', async t => {
  const { authkit, store } = await setup(t)
  authkit.jwksMode = 'down'
  const err = await rejectsWith(t, store.refresh(), 'GW_JWKS_UNAVAILABLE', 'refresh')
  t.equal(err?.statusCode, 503)
  t.notMatch(err?.message ?? '', '127.0.0.1')
  t.notMatch(err?.message ?? '', 'jwks')
  t.equal(store.ready, false)
  await rejectsWith(t, store.getKey(header(authkit.key.kid)), 'GW_JWKS_UNAVAILABLE', 'a look-up while AuthKit is down')
})

t.test('a JWKS that never answers fails after the timeout with GW_JWKS_UNAVAILABLE', async t => {
  const { authkit, store } = await setup(t, { timeoutMs: 200 })
  authkit.jwksMode = 'hang'
  await rejectsWith(t, store.getKey(header(authkit.key.kid)), 'GW_JWKS_UNAVAILABLE', 'hanging JWKS')
  t.equal(store.ready, false)
})

t.test('after a failed fetch, look-ups answer 503 without refetching until the backoff ends', async t => {
  const { authkit, store, clock } = await setup(t)
  authkit.jwksMode = 'down'
  await rejectsWith(t, store.refresh(), 'GW_JWKS_UNAVAILABLE', 'refresh')
  for (let i = 0; i < 10; i++) {
    await rejectsWith(t, store.getKey(header(authkit.key.kid)), 'GW_JWKS_UNAVAILABLE', `look-up ${i}`)
  }
  t.equal(authkit.jwksRequests, 1, 'the backoff holds the refetches')
  authkit.jwksMode = 'ok'
  clock.ms += 2000
  t.equal(await store.getKey(header(authkit.key.kid)), pemOf(authkit.key), 'the backoff is shorter than the cooldown')
  t.equal(authkit.jwksRequests, 2)
  t.equal(store.ready, true)
})

t.test('the failure backoff is 2 s even when the cooldown is shorter (or 0)', async t => {
  const { authkit, store, clock } = await setup(t, { refetchCooldownMs: 0 })
  authkit.jwksMode = 'down'
  await rejectsWith(t, store.refresh(), 'GW_JWKS_UNAVAILABLE', 'refresh')
  clock.ms += 1999
  for (let i = 0; i < 10; i++) {
    await rejectsWith(t, store.getKey(header(authkit.key.kid)), 'GW_JWKS_UNAVAILABLE', `look-up ${i}`)
  }
  t.equal(authkit.jwksRequests, 1, 'a loop of probes or made-up kids drives no loop of fetches')
  clock.ms += 1
  authkit.jwksMode = 'ok'
  t.equal(await store.getKey(header(authkit.key.kid)), pemOf(authkit.key))
  t.equal(authkit.jwksRequests, 2)
})

t.test('a known key is still served when its cache entry aged out and AuthKit is down', async t => {
  const { authkit, store, clock } = await setup(t, { cacheTtlMs: 50 })
  const key = authkit.key
  await store.refresh()
  authkit.jwksMode = 'down'
  await sleep(120)
  t.equal(await store.getKey(header(key.kid)), pemOf(key), 'the stale key')
  t.equal(authkit.jwksRequests, 2, 'after trying AuthKit once')
  for (let i = 0; i < 5; i++) t.equal(await store.getKey(header(key.kid)), pemOf(key), `the stale key, look-up ${i}`)
  t.equal(authkit.jwksRequests, 2, 'no fetch per request within the failure backoff')
  clock.ms += 2000
  t.equal(await store.getKey(header(key.kid)), pemOf(key), 'the stale key after the backoff')
  t.equal(authkit.jwksRequests, 3, 'one more try once the backoff is over')
  authkit.jwksMode = 'ok'
  clock.ms += 2000
  t.equal(await store.getKey(header(key.kid)), pemOf(key))
  t.equal(authkit.jwksRequests, 4, 'AuthKit is back: the key is fresh again')
  t.equal(await store.getKey(header(key.kid)), pemOf(key))
  t.equal(authkit.jwksRequests, 4)
})

t.test('a known key is served for as long as AuthKit stays down, not only one more TTL', async t => {
  const { authkit, store, clock } = await setup(t, { cacheTtlMs: 50 })
  const key = authkit.key
  await store.refresh()
  authkit.jwksMode = 'down'
  for (let i = 0; i < 4; i++) {
    // Each turn: several TTLs of real time (the caches), past the failure backoff (the store's clock).
    await sleep(120)
    clock.ms += 2000
    t.equal(await store.getKey(header(key.kid)), pemOf(key), `the last good key, ${(i + 1) * 120} ms into the outage`)
  }
  t.equal(authkit.jwksRequests, 5, 'AuthKit was tried once a backoff')
})

t.test('a JWKS that hangs until the timeout starts the backoff when it fails, not when it started', async t => {
  const { authkit, store, clock } = await setup(t, { timeoutMs: 200 })
  authkit.jwksMode = 'hang'
  const first = store.refresh()
  // The timeout is longer than the backoff (3 s and 2 s by default).
  clock.ms += 3000
  await rejectsWith(t, first, 'GW_JWKS_UNAVAILABLE', 'the hanging fetch')
  await rejectsWith(t, store.getKey(header(authkit.key.kid)), 'GW_JWKS_UNAVAILABLE', 'a look-up right after')
  t.equal(authkit.jwksRequests, 1, 'no second fetch within the backoff: answered at once, without waiting out another timeout')
})

t.test('a JWKS with no key this gateway can use counts as a failed fetch, and the last good keys stay', async t => {
  const authkit = await startAuthKit()
  t.teardown(() => authkit.close())
  const good = authkit.key
  let keys: unknown[] = [{ ...good.publicKey.export({ format: 'jwk' }), kid: good.kid, alg: 'RS256', use: 'sig' }]
  const jwks = await listen((_req, res) => sendJson(res, 200, { keys }))
  t.teardown(() => jwks.close())
  const clock = { ms: 1_000_000 }
  const store = createKeyStore({ issuer: authkit.issuer, jwksUrl: jwks.url, timeoutMs: 2000, cacheTtlMs: 50, refetchCooldownMs: COOLDOWN_MS, now: () => clock.ms })
  keys = []
  await rejectsWith(t, store.refresh(), 'GW_JWKS_UNAVAILABLE', 'an empty key set')
  t.equal(store.ready, false, 'not ready on an empty set')
  keys = [{ ...good.publicKey.export({ format: 'jwk' }), kid: good.kid, alg: 'RS256', use: 'sig' }]
  clock.ms += 2000
  await store.refresh()
  t.equal(store.ready, true)
  keys = [{ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid: 'ec', alg: 'ES256' }]
  await sleep(120)
  clock.ms += COOLDOWN_MS
  t.equal(await store.getKey(header(good.kid)), pemOf(good), 'a set of unusable keys is a failure: the last good key is served')
})

t.test('a key the next fetch no longer lists is refused at once, though its cache entry would last', async t => {
  const { authkit, store, clock } = await setup(t)
  const old = authkit.key
  await store.refresh()
  const next = authkit.addKey()
  authkit.retire(old.kid)
  clock.ms += COOLDOWN_MS
  t.equal(await store.getKey(header(next.kid)), pemOf(next), 'the new key, found by one fetch')
  await rejectsWith(t, store.getKey(header(old.kid)), 'GW_TOKEN_INVALID', 'the retired kid')
  t.equal(authkit.jwksRequests, 2)
})

t.test('a known key whose cache entry aged out is refreshed when AuthKit is up', async t => {
  const { authkit, store } = await setup(t, { cacheTtlMs: 50 })
  const key = authkit.key
  await store.refresh()
  await sleep(120)
  t.equal(await store.getKey(header(key.kid)), pemOf(key))
  t.equal(authkit.jwksRequests, 2)
  t.equal(await store.getKey(header(key.kid)), pemOf(key))
  t.equal(authkit.jwksRequests, 2, 'fresh again after the refresh')
})

t.test('a retired key is refused once its cache entry aged out and the JWKS no longer lists it', async t => {
  const { authkit, store } = await setup(t, { cacheTtlMs: 50 })
  const old = authkit.key
  await store.refresh()
  const next = authkit.addKey()
  authkit.retire(old.kid)
  await sleep(120)
  await rejectsWith(t, store.getKey(header(old.kid)), 'GW_TOKEN_INVALID', 'the retired kid')
  t.equal(await store.getKey(header(next.kid)), pemOf(next), 'the new key is served')
  t.equal(authkit.jwksRequests, 2, 'one refetch found the new key set')
  await rejectsWith(t, store.getKey(header(old.kid)), 'GW_TOKEN_INVALID', 'the retired kid, again')
  t.equal(authkit.jwksRequests, 2, 'the retired kid no longer triggers fetches')
})
