import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { createMembershipCache, MembershipUnavailableError, roleAllowed } from '../../lib/membership.ts'
import type { Membership, MembershipCacheOptions, MembershipEntry, MembershipLookup, SharedMembershipStore } from '../../lib/membership.ts'
import { GatewayError } from '../../lib/errors.ts'

const ORG = 'org_A'
const OTHER_ORG = 'org_B'
const MEMBER = 'user_member'
const STRANGER = 'user_stranger'

type Answer = Membership | null | Error

/**
 * A membership source the test controls: `answers` says what each (user, org) gets, `calls`
 * records every look-up, and `hold()` keeps look-ups waiting until the returned release is called.
 */
function source (answers: Record<string, Answer> = {}) {
  const calls: string[] = []
  let gate: Promise<void> = Promise.resolve()
  const lookup: MembershipLookup = async (userId, organizationId) => {
    calls.push(`${userId}@${organizationId}`)
    await gate
    const answer = answers[`${userId}@${organizationId}`] ?? null
    if (answer instanceof Error) throw answer
    return answer
  }
  function hold (): () => void {
    let release!: () => void
    gate = new Promise<void>(resolve => { release = resolve })
    return () => { release(); gate = Promise.resolve() }
  }
  return { lookup, calls, answers, hold }
}

function cacheFor (lookup: MembershipLookup, overrides: Partial<MembershipCacheOptions> = {}) {
  return createMembershipCache({ lookup, ttlMs: 60_000, negativeTtlMs: 60_000, max: 100, retryAfterSeconds: 5, ...overrides })
}

async function failure (answer: unknown): Promise<GatewayError> {
  const err = await Promise.resolve(answer).then(() => null, (e: unknown) => e)
  if (!(err instanceof GatewayError)) throw new Error(`expected a GatewayError, got ${String(err)}`)
  return err
}

t.test('an active member is returned with its roles', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const cache = cacheFor(s.lookup)
  t.same(await cache.get(MEMBER, ORG), { roles: ['member'] })
  t.equal(await cache.get(STRANGER, ORG), null)
})

t.test('a member is asked about once while the positive TTL lasts', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const cache = cacheFor(s.lookup)
  await cache.get(MEMBER, ORG)
  t.same(await cache.get(MEMBER, ORG), { roles: ['member'] })
  t.same(s.calls, [`${MEMBER}@${ORG}`])
})

t.test('a non-member is asked about once while the negative TTL lasts', async t => {
  const s = source()
  const cache = cacheFor(s.lookup)
  t.equal(await cache.get(STRANGER, ORG), null)
  t.equal(await cache.get(STRANGER, ORG), null)
  t.same(s.calls, [`${STRANGER}@${ORG}`])
})

t.test('a non-member is asked again once the negative TTL has passed, a member is not', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const cache = cacheFor(s.lookup, { ttlMs: 60_000, negativeTtlMs: 20 })
  await cache.get(MEMBER, ORG)
  await cache.get(STRANGER, ORG)
  // Far past the 20 ms negative TTL; nothing here measures how long anything took.
  await sleep(100)
  s.answers[`${STRANGER}@${ORG}`] = { roles: ['member'] }
  t.same(await cache.get(STRANGER, ORG), { roles: ['member'] }, 'the new member is let in')
  await cache.get(MEMBER, ORG)
  t.same(s.calls, [`${MEMBER}@${ORG}`, `${STRANGER}@${ORG}`, `${STRANGER}@${ORG}`])
})

t.test('a member is asked again once the positive TTL has passed', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const cache = cacheFor(s.lookup, { ttlMs: 20, negativeTtlMs: 60_000 })
  await cache.get(MEMBER, ORG)
  await sleep(100)
  delete s.answers[`${MEMBER}@${ORG}`]
  t.equal(await cache.get(MEMBER, ORG), null, 'a removed member loses access')
  t.equal(s.calls.length, 2)
})

t.test('a TTL of 0 means no caching, not caching forever', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const cache = cacheFor(s.lookup, { ttlMs: 0, negativeTtlMs: 0 })
  await cache.get(MEMBER, ORG)
  await cache.get(MEMBER, ORG)
  await cache.get(STRANGER, ORG)
  await cache.get(STRANGER, ORG)
  t.equal(s.calls.length, 4)
  delete s.answers[`${MEMBER}@${ORG}`]
  t.equal(await cache.get(MEMBER, ORG), null, 'a removed member loses access at the next request')
})

t.test('a cached answer comes at once; only a look-up is a promise', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const cache = cacheFor(s.lookup)
  const first = cache.get(MEMBER, ORG)
  t.ok(first instanceof Promise, 'the first answer waits for the source')
  t.same(await first, { roles: ['member'] })
  t.same(cache.get(MEMBER, ORG), { roles: ['member'] }, 'the second is the cached membership itself')
  t.equal(cache.get(STRANGER, ORG) instanceof Promise, true, 'another user is looked up')
  t.same(cache.stats, { hit: 1, miss: 1, error: 0 })
})

t.test('a failed look-up is a 503 with Retry-After, and is never cached', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: new MembershipUnavailableError('down') })
  const cache = cacheFor(s.lookup)
  const err = await failure(cache.get(MEMBER, ORG))
  t.equal(err.code, 'GW_MEMBERSHIP_UNAVAILABLE')
  t.equal(err.statusCode, 503)
  t.equal(err.headers['retry-after'], '5', 'the configured default')
  s.answers[`${MEMBER}@${ORG}`] = { roles: ['member'] }
  t.same(await cache.get(MEMBER, ORG), { roles: ['member'] }, 'the next request asks again')
  t.equal(s.calls.length, 2)
})

t.test('the Retry-After of a MembershipUnavailableError reaches the 503', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: new MembershipUnavailableError('rate limited', 7) })
  const cache = cacheFor(s.lookup, { retryAfterSeconds: 30 })
  const err = await failure(cache.get(MEMBER, ORG))
  t.equal(err.headers['retry-after'], '7')
})

t.test('any other error from the lookup is a 503 with the default Retry-After, not a non-member', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: new TypeError('fetch failed') })
  const cache = cacheFor(s.lookup, { retryAfterSeconds: 11 })
  const err = await failure(cache.get(MEMBER, ORG))
  t.equal(err.statusCode, 503)
  t.equal(err.headers['retry-after'], '11')
  t.notMatch(err.message, /fetch failed/, 'the cause is not echoed to the client')
})

t.test('a lookup that throws at once is not left in flight', async t => {
  let fail = true
  let calls = 0
  const lookup: MembershipLookup = (): Promise<Membership | null> => {
    calls++
    if (fail) throw new Error('sync failure')
    return Promise.resolve({ roles: ['member'] })
  }
  const cache = cacheFor(lookup)
  t.equal((await failure(cache.get(MEMBER, ORG))).statusCode, 503)
  fail = false
  t.same(await cache.get(MEMBER, ORG), { roles: ['member'] })
  t.equal(calls, 2)
})

t.test('concurrent look-ups of one (user, org) share one call', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const cache = cacheFor(s.lookup)
  const release = s.hold()
  const pending = Array.from({ length: 20 }, () => cache.get(MEMBER, ORG))
  release()
  const results = await Promise.all(pending)
  t.equal(s.calls.length, 1)
  t.ok(results.every(r => r?.roles[0] === 'member'))
})

t.test('concurrent look-ups that fail all get 503, and the next one asks again', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: new MembershipUnavailableError('down', 3) })
  const clock = { ms: 1_000_000 }
  const cache = cacheFor(s.lookup, { now: () => clock.ms })
  const release = s.hold()
  const pending = Array.from({ length: 5 }, () => failure(cache.get(MEMBER, ORG)))
  release()
  const errors = await Promise.all(pending)
  t.equal(s.calls.length, 1)
  t.ok(errors.every(e => e.statusCode === 503 && e.headers['retry-after'] === '3'))
  // Once the source's own Retry-After has passed.
  clock.ms += 3000
  s.answers[`${MEMBER}@${ORG}`] = { roles: ['member'] }
  t.same(await cache.get(MEMBER, ORG), { roles: ['member'] })
  t.equal(s.calls.length, 2)
})

t.test('different users and organizations are looked up separately', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const cache = cacheFor(s.lookup)
  const release = s.hold()
  const pending = Promise.all([cache.get(MEMBER, ORG), cache.get(MEMBER, OTHER_ORG), cache.get(STRANGER, ORG)])
  release()
  t.same(await pending, [{ roles: ['member'] }, null, null])
  t.same(s.calls.sort(), [`${MEMBER}@${ORG}`, `${MEMBER}@${OTHER_ORG}`, `${STRANGER}@${ORG}`].sort())
})

t.test('evict forgets one (user, org) only', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] }, [`${MEMBER}@${OTHER_ORG}`]: { roles: ['admin'] } })
  const cache = cacheFor(s.lookup)
  await cache.get(MEMBER, ORG)
  await cache.get(MEMBER, OTHER_ORG)
  delete s.answers[`${MEMBER}@${ORG}`]
  cache.evict(MEMBER, ORG)
  t.equal(await cache.get(MEMBER, ORG), null, 'the evicted pair is asked again')
  t.same(await cache.get(MEMBER, OTHER_ORG), { roles: ['admin'] })
  t.same(s.calls, [`${MEMBER}@${ORG}`, `${MEMBER}@${OTHER_ORG}`, `${MEMBER}@${ORG}`])
})

t.test('clear forgets everything', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const cache = cacheFor(s.lookup)
  await cache.get(MEMBER, ORG)
  await cache.get(STRANGER, ORG)
  cache.clear()
  await cache.get(MEMBER, ORG)
  await cache.get(STRANGER, ORG)
  t.equal(s.calls.length, 4)
})

t.test('the cache holds at most max entries, dropping the least recently used', async t => {
  const s = source()
  const cache = cacheFor(s.lookup, { max: 2 })
  await cache.get('user_1', ORG)
  await cache.get('user_2', ORG)
  await cache.get('user_3', ORG)
  await cache.get('user_3', ORG)
  await cache.get('user_2', ORG)
  t.equal(s.calls.length, 3, 'the two most recent are still cached')
  await cache.get('user_1', ORG)
  t.equal(s.calls.length, 4, 'the oldest was dropped')
})

t.test('roleAllowed', async t => {
  t.ok(roleAllowed({ roles: ['member'] }, undefined), 'no allowedRoles admits every role')
  t.ok(roleAllowed({ roles: [] }, undefined), 'no allowedRoles admits a membership without roles')
  t.ok(roleAllowed({ roles: ['admin'] }, ['admin', 'member']))
  t.ok(roleAllowed({ roles: ['viewer', 'admin'] }, ['admin']), 'one matching role of several is enough')
  t.notOk(roleAllowed({ roles: ['member'] }, ['admin']))
  t.notOk(roleAllowed({ roles: [] }, ['admin']), 'a membership without roles is refused when roles are required')
  t.notOk(roleAllowed({ roles: ['Admin'] }, ['admin']), 'slugs compare exactly')
})

t.test('evict without an organization forgets every organization of that user, and no one else', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] }, [`${MEMBER}@${OTHER_ORG}`]: { roles: ['member'] }, [`${STRANGER}@${ORG}`]: { roles: ['member'] } })
  const cache = cacheFor(s.lookup)
  for (const [u, o] of [[MEMBER, ORG], [MEMBER, OTHER_ORG], [STRANGER, ORG]]) await cache.get(u, o)
  cache.evict(MEMBER)
  for (const [u, o] of [[MEMBER, ORG], [MEMBER, OTHER_ORG], [STRANGER, ORG]]) await cache.get(u, o)
  t.equal(s.calls.length, 5, 'the evicted user was asked about again in both organizations')
})

t.test('evict without an organization finds the user\'s entries as the cache churns', async t => {
  // The entries of a user are found through an index the cache keeps in step, not by walking it.
  const orgs = ['org_1', 'org_2', 'org_3', 'org_4']
  const answers: Record<string, Answer> = {}
  for (const o of orgs) for (const u of [MEMBER, STRANGER]) answers[`${u}@${o}`] = { roles: ['member'] }
  const s = source(answers)
  const cache = cacheFor(s.lookup, { max: 3 })
  const asked = async (u: string, o: string): Promise<boolean> => {
    const before = s.calls.length
    await cache.get(u, o)
    return s.calls.length > before
  }
  for (const o of orgs) await asked(MEMBER, o) // org_1 pushed out by org_4
  t.ok(await asked(STRANGER, 'org_1'), 'the stranger pushes org_2 out')
  cache.evict(MEMBER)
  t.ok(await asked(MEMBER, 'org_3'), 'an entry of the user that was still cached is gone')
  t.ok(await asked(MEMBER, 'org_4'), 'and the other')
  t.notOk(await asked(STRANGER, 'org_1'), 'the stranger\'s entry stayed')
  cache.evict(MEMBER)
  cache.evict(MEMBER)
  t.ok(await asked(MEMBER, 'org_3'), 'evicting twice and again finds what came back since')
  cache.clear()
  t.ok(await asked(STRANGER, 'org_1'), 'clear forgets everyone')
  t.ok(await asked(MEMBER, 'org_4'))
  cache.evict(STRANGER)
  t.notOk(await asked(MEMBER, 'org_4'), 'evicting someone else keeps the user\'s entry')
})

t.test('a look-up in flight when an eviction arrives is answered but not cached', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const cache = cacheFor(s.lookup)
  const release = s.hold()
  const pending = cache.get(MEMBER, ORG)
  cache.evict(MEMBER, ORG)
  release()
  t.same(await pending, { roles: ['member'] })
  await cache.get(MEMBER, ORG)
  t.equal(s.calls.length, 2, 'the answer learnt before the eviction was not kept')
})

t.test('an eviction of another user does not keep a look-up in flight from being cached', async t => {
  // A directory sync deprovisioning others must not leave every look-up uncached (each request
  // would go to WorkOS again, until it rate-limits the gateway).
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const cache = cacheFor(s.lookup)
  const release = s.hold()
  const pending = cache.get(MEMBER, ORG)
  cache.evict(STRANGER, ORG)
  cache.evict(STRANGER)
  release()
  t.same(await pending, { roles: ['member'] })
  t.same(await cache.get(MEMBER, ORG), { roles: ['member'] })
  t.equal(s.calls.length, 1, 'the answer was kept')
})

t.test('once the per-user eviction counts overflow, a look-up in flight keeps nothing: never a stale answer', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const cache = cacheFor(s.lookup, { max: 1 })
  const release = s.hold()
  const pending = cache.get(MEMBER, ORG)
  cache.evict(MEMBER, ORG)
  // Pushes the member's count out: read again, it would look as it did when the look-up began.
  cache.evict(STRANGER, ORG)
  release()
  t.same(await pending, { roles: ['member'] })
  await cache.get(MEMBER, ORG)
  t.equal(s.calls.length, 2, 'the answer learnt before the eviction was not kept')
})

for (const [kind, evictOne] of [['one organization', true], ['every organization', false]] as const) {
  t.test(`a request after an eviction (${kind}) does not join a look-up begun before it`, async t => {
    // WorkOS said "member" to the first look-up; the membership is deleted before that answer
    // arrives, and the second look-up is told so.
    const answers: Array<Membership | null> = [{ roles: ['member'] }, null]
    let calls = 0
    let release!: () => void
    const lookup: MembershipLookup = async () => {
      const answer = answers[calls++]
      if (calls === 1) await new Promise<void>(resolve => { release = resolve })
      return answer
    }
    const cache = cacheFor(lookup)
    const before = cache.get(MEMBER, ORG)
    const alsoBefore = cache.get(MEMBER, ORG)
    if (evictOne) cache.evict(MEMBER, ORG)
    else cache.evict(MEMBER)
    const after = cache.get(MEMBER, ORG)
    release()
    t.same(await before, { roles: ['member'] }, 'a request already waiting gets the answer it waited for')
    t.same(await alsoBefore, { roles: ['member'] })
    t.equal(await after, null, 'the request after the eviction asked again')
    t.equal(calls, 2)
    t.equal(await cache.get(MEMBER, ORG), null, 'and its answer is the one kept')
    t.equal(calls, 2)
  })
}

t.test('a shared store is asked before the source; what the source says is written to it', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const shared = new Map<string, { entry: MembershipEntry, ttlMs: number }>()
  const store: SharedMembershipStore = {
    get: async (u, o) => ({ found: shared.get(`${u}@${o}`), version: '' }),
    set: async (u, o, entry, ttlMs) => { shared.set(`${u}@${o}`, { entry, ttlMs }) }
  }
  const a = cacheFor(s.lookup, { shared: store })
  const b = cacheFor(s.lookup, { shared: store })
  t.same(await a.get(MEMBER, ORG), { roles: ['member'] })
  t.same(await b.get(MEMBER, ORG), { roles: ['member'] })
  t.equal(s.calls.length, 1)
  t.same(a.stats, { hit: 0, miss: 1, error: 0 })
  t.same(b.stats, { hit: 1, miss: 0, error: 0 })
})

t.test('what the source says is written with the version the shared store was read at', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const written: string[] = []
  const store: SharedMembershipStore = {
    get: async () => ({ version: 'generation-7' }),
    set: async (_u, _o, _entry, _ttlMs, version) => { written.push(version) }
  }
  const cache = cacheFor(s.lookup, { shared: store })
  t.same(await cache.get(MEMBER, ORG), { roles: ['member'] })
  t.same(written, ['generation-7'], 'so the store can drop it when a revocation came in between')
})

t.test('a shared store that cannot answer fails closed: 503, and the source is not asked', async t => {
  const s = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const errors: string[] = []
  const store: SharedMembershipStore = {
    get: async () => { throw new Error('connection refused') },
    set: async () => {}
  }
  const cache = cacheFor(s.lookup, { shared: store, onSharedError: err => errors.push(err.message) })
  const err = await failure(cache.get(MEMBER, ORG))
  t.equal(err.statusCode, 503)
  t.same(s.calls, [])
  t.same(errors, ['connection refused'])
  t.equal(cache.stats.error, 1)
})

t.test('a user who looks up too many organizations a minute gets 429 for new ones; cached answers still come', async t => {
  const { lookup, calls } = source({ [`${MEMBER}@${ORG}`]: { roles: ['member'] } })
  const clock = { ms: 1_000_000 }
  const cache = cacheFor(lookup, { lookupsPerUserPerMinute: 3, now: () => clock.ms })
  t.same(await cache.get(MEMBER, ORG), { roles: ['member'] })
  t.equal(await cache.get(MEMBER, 'org_made_up_1'), null)
  t.equal(await cache.get(MEMBER, 'org_made_up_2'), null)
  clock.ms += 20_000
  const refused = await failure(cache.get(MEMBER, 'org_made_up_3'))
  t.equal(refused.statusCode, 429)
  t.equal(refused.code, 'GW_RATE_LIMITED')
  t.equal(refused.headers['retry-after'], '40', 'until the minute of the first look-up ends')
  t.equal(calls.length, 3, 'the source was not asked past the budget')
  t.same(cache.get(MEMBER, ORG), { roles: ['member'] }, 'a cached answer still comes, at once')
  t.equal(await cache.get(STRANGER, 'org_made_up_3'), null, 'another user has a budget of their own')
  t.same(cache.stats, { hit: 1, miss: 4, error: 0 }, 'a refusal is not a failure of the source')
  clock.ms += 40_000
  t.equal(await cache.get(MEMBER, 'org_made_up_3'), null, 'a new minute, a new budget')
  t.equal(calls.length, 5)
})

t.test('without a budget, look-ups are not limited', async t => {
  const { lookup, calls } = source()
  const cache = cacheFor(lookup, { lookupsPerUserPerMinute: 0 })
  for (let i = 0; i < 50; i++) t.equal(await cache.get(MEMBER, `org_${i}`), null)
  t.equal(calls.length, 50)
})

t.test('after a rate limit with Retry-After, the source is not asked again until it has passed', async t => {
  const { lookup, calls, answers } = source({ [`${MEMBER}@${ORG}`]: new MembershipUnavailableError('rate limited', 7) })
  const clock = { ms: 1_000_000 }
  const cache = cacheFor(lookup, { now: () => clock.ms })
  t.equal((await failure(cache.get(MEMBER, ORG))).headers['retry-after'], '7')
  clock.ms += 3000
  const paused = await failure(cache.get(STRANGER, OTHER_ORG))
  t.equal(paused.statusCode, 503, 'another user, at once')
  t.equal(paused.headers['retry-after'], '4', 'with what is left of the wait')
  t.equal(calls.length, 1, 'the source was not asked')
  clock.ms += 4000
  answers[`${MEMBER}@${ORG}`] = { roles: ['member'] }
  t.same(await cache.get(MEMBER, ORG), { roles: ['member'] }, 'asked again once the wait is over')
  t.equal(calls.length, 2)
})

t.test('a failure without Retry-After does not pause the source', async t => {
  const { lookup, calls } = source({ [`${MEMBER}@${ORG}`]: new MembershipUnavailableError('down') })
  const cache = cacheFor(lookup)
  await failure(cache.get(MEMBER, ORG))
  t.equal(await cache.get(STRANGER, ORG), null)
  t.equal(calls.length, 2)
})
