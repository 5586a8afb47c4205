import t from 'tap'
import type * as Tap from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { createRedisLink } from '../../lib/redis.ts'
import type { RedisLink } from '../../lib/redis.ts'
import { createEvictionBus, createRedisMembershipStore } from '../../lib/membership-store.ts'
import type { EvictionHandlers, RedisMembershipStore } from '../../lib/membership-store.ts'
import type { MembershipEntry } from '../../lib/membership.ts'
import { TEST_REDIS_URL, eventually, redisPrefix, redisServerSkip, redisSkip, startOwnRedis, startRedisRelay, untilSubscribed } from '../fixtures/redis.ts'

const skip = await redisSkip()
const USER = 'user_01STORE0000000000000000'
const MEMBER: MembershipEntry = { member: true, membership: { roles: ['member'] } }
const HOLD_MS = 60_000

async function linkFor (t: Tap.Test, prefix: string): Promise<RedisLink> {
  const link = createRedisLink({ url: TEST_REDIS_URL, keyPrefix: prefix, commandTimeoutMs: 1000, onStateChange: () => {} })
  t.teardown(() => link.close())
  t.ok(await link.waitUntilUp(2000), 'connected to Redis')
  return link
}

async function storeFor (t: Tap.Test, prefix: string): Promise<{ link: RedisLink, store: RedisMembershipStore }> {
  const link = await linkFor(t, prefix)
  return { link, store: createRedisMembershipStore(link, { revocationHoldMs: HOLD_MS }) }
}

function handlers (onEviction: EvictionHandlers['onEviction'], overrides: Partial<EvictionHandlers> = {}): EvictionHandlers {
  return { onEviction, onSubscribed: () => {}, onLost: () => {}, onRevokeFailed: () => {}, ...overrides }
}

/** Writes what the source said, as the cache does: read first, then write with the version read. */
async function learn (store: RedisMembershipStore, org: string, entry: MembershipEntry, ttlMs: number, userId = USER): Promise<void> {
  const { version } = await store.get(userId, org)
  await store.set(userId, org, entry, ttlMs, version)
}

/** Every answer Redis holds under `prefix`, whatever the layout: a string key or a hash field each. */
async function answersHeld (prefix: string): Promise<{ keys: number, answers: number }> {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 0 })
  try {
    let keys = 0
    let answers = 0
    let cursor = '0'
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      for (const key of found) {
        keys++
        answers += await redis.type(key) === 'hash' ? await redis.hlen(key) : (key.endsWith(':g') ? 0 : 1)
      }
      cursor = next
    } while (cursor !== '0')
    return { keys, answers }
  } finally {
    redis.disconnect()
  }
}

t.test('what one instance learnt, another reads; members and non-members', { skip }, async t => {
  const prefix = redisPrefix(t)
  const a = await storeFor(t, prefix)
  const b = await storeFor(t, prefix)
  await learn(a.store, 'org_A', MEMBER, 5000)
  await learn(a.store, 'org_B', { member: false }, 5000)
  const member = await b.store.get(USER, 'org_A')
  t.same(member.found?.entry, MEMBER)
  t.ok((member.found?.ttlMs ?? 0) > 4000 && (member.found?.ttlMs ?? 0) <= 5000, 'with what is left of its TTL')
  t.same((await b.store.get(USER, 'org_B')).found?.entry, { member: false })
  t.equal((await b.store.get(USER, 'org_C')).found, undefined)
  t.equal((await b.store.get('user_01SOMEONEELSE00000000000', 'org_A')).found, undefined, 'answers are per user')
})

t.test('a user who keeps naming new organizations holds only the answers still alive', { skip }, async t => {
  const prefix = redisPrefix(t)
  const { store } = await storeFor(t, prefix)
  // Twelve organizations, one every 40 ms, each answer kept 120 ms: at most four are alive at once.
  for (let i = 0; i < 12; i++) {
    await learn(store, `org_made_up_${i}`, { member: false }, 120)
    await sleep(40)
  }
  const held = await answersHeld(prefix)
  t.ok(held.answers <= 4, `${held.answers} answers held, not one per organization ever named`)
  await sleep(200)
  t.same(await answersHeld(prefix), { keys: 0, answers: 0 }, 'once the last answer expires, nothing of the user is left')
})

t.test('a look-up that began before a revocation is not written after it; one that began after is', { skip }, async t => {
  const prefix = redisPrefix(t)
  const a = await storeFor(t, prefix)
  const b = await storeFor(t, prefix)
  await learn(b.store, 'org_OTHER', MEMBER, 5000)

  const before = await b.store.get(USER, 'org_A')
  t.equal(before.found, undefined)
  await a.store.revoke(USER)
  await b.store.set(USER, 'org_A', MEMBER, 5000, before.version)
  t.equal((await a.store.get(USER, 'org_A')).found, undefined, 'the answer learnt before the revocation is not shared')
  t.equal((await a.store.get(USER, 'org_OTHER')).found, undefined, 'a revocation drops every answer of the user')

  await learn(b.store, 'org_A', { member: false }, 5000)
  t.same((await a.store.get(USER, 'org_A')).found?.entry, { member: false }, 'an answer learnt after it is')
})

t.test('the first look-ups of a user, side by side, are all kept', { skip }, async t => {
  const prefix = redisPrefix(t)
  const { store } = await storeFor(t, prefix)
  const [one, two] = [await store.get(USER, 'org_A'), await store.get(USER, 'org_B')]
  t.equal(one.version, '')
  t.equal(two.version, '')
  await store.set(USER, 'org_A', MEMBER, 5000, one.version)
  await store.set(USER, 'org_B', MEMBER, 5000, two.version)
  t.same((await store.get(USER, 'org_A')).found?.entry, MEMBER)
  t.same((await store.get(USER, 'org_B')).found?.entry, MEMBER, 'the second write found the first one\'s generation, not a revocation')
})

t.test('an eviction published by one instance reaches every instance and drops the shared answers', { skip }, async t => {
  const prefix = redisPrefix(t)
  const a = await storeFor(t, prefix)
  const b = await storeFor(t, prefix)
  const heardByA: unknown[] = []
  const heardByB: unknown[] = []
  const busA = createEvictionBus(a.link, a.store, handlers(e => heardByA.push(e)))
  const busB = createEvictionBus(b.link, b.store, handlers(e => heardByB.push(e)))
  t.teardown(async () => { await busA.close(); await busB.close() })
  await learn(b.store, 'org_A', MEMBER, 5000)
  // The subscription is sent as the bus is made; the first message may only follow it.
  await untilSubscribed(prefix, 2)

  await busA.publish({ userId: USER, organizationId: 'org_A' })
  t.ok(await eventually(() => heardByB.length === 1), 'instance b heard it')
  t.same(heardByB, [{ userId: USER, organizationId: 'org_A' }])
  t.same(heardByA, [{ userId: USER, organizationId: 'org_A' }], 'and so did a')
  t.equal((await b.store.get(USER, 'org_A')).found, undefined)
})

t.test('an eviction from an instance of an earlier release (no generations) still drops the shared answers', { skip }, async t => {
  const prefix = redisPrefix(t)
  const { link, store } = await storeFor(t, prefix)
  const heard: unknown[] = []
  const bus = createEvictionBus(link, store, handlers(e => heard.push(e)))
  t.teardown(() => bus.close())
  await learn(store, 'org_A', MEMBER, 5000)
  await untilSubscribed(prefix, 1)

  // What an earlier release publishes, after deleting its own per-user hash.
  const old = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 0 })
  t.teardown(() => old.disconnect())
  await old.publish(`${prefix}membership:evict`, JSON.stringify({ userId: USER, organizationId: 'org_A' }))
  t.ok(await eventually(() => heard.length === 2), 'told to evict at once, and again once the revocation is in Redis')
  t.same(heard, [{ userId: USER, organizationId: 'org_A' }, { userId: USER, organizationId: 'org_A' }])
  t.equal((await store.get(USER, 'org_A')).found, undefined, 'the answer is no longer shared')
})

t.test('a revocation deletes the per-user hash an earlier release keeps', { skip }, async t => {
  const prefix = redisPrefix(t)
  const { store } = await storeFor(t, prefix)
  const old = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 0 })
  t.teardown(() => old.disconnect())
  await old.hset(`${prefix}membership:${USER}`, 'org_A', JSON.stringify({ roles: ['member'], expiresAt: Date.now() + 60_000 }))
  await store.revoke(USER)
  t.equal(await old.exists(`${prefix}membership:${USER}`), 0, 'so an instance of that release asks WorkOS again too')
})

t.test('a subscription whose connection silently went dead is found by the probe, made again, and reported', { skip }, async t => {
  const prefix = redisPrefix(t)
  const a = await storeFor(t, prefix)
  const relay = await startRedisRelay(t)
  const link = createRedisLink({ url: `redis://${relay.address}`, keyPrefix: prefix, commandTimeoutMs: 1000, onStateChange: () => {} })
  t.teardown(() => link.close())
  const store = createRedisMembershipStore(link, { revocationHoldMs: HOLD_MS })
  const events: string[] = []
  const bus = createEvictionBus(link, store, handlers(e => events.push(`eviction ${e.userId}`), {
    onSubscribed: again => events.push(again ? 'subscribed again' : 'subscribed'),
    onLost: reason => events.push(`lost: ${reason}`)
  }), { everyMs: 100, timeoutMs: 200 })
  t.teardown(() => bus.close())
  t.ok(await eventually(() => events.includes('subscribed'), 2000))

  // A NAT forgets the connection: it stays open on both ends and carries nothing.
  relay.stall()
  await a.store.revoke(USER)
  await a.link.client.publish(`${prefix}membership:evict`, JSON.stringify({ userId: USER, v: 2 }))
  t.ok(await eventually(() => events.includes('subscribed again'), 3000), 'the probe found it and the subscription was made again')
  t.same(events, ['subscribed', 'lost: no answer to a ping within 200 ms', 'subscribed again'], 'the eviction sent meanwhile was lost, and the loss was reported')
})

t.test('a subscription that loses its connection reports it and, once back, says so', { skip }, async t => {
  const prefix = redisPrefix(t)
  const relay = await startRedisRelay(t)
  const link = createRedisLink({ url: `redis://${relay.address}`, keyPrefix: prefix, commandTimeoutMs: 1000, onStateChange: () => {} })
  t.teardown(() => link.close())
  const store = createRedisMembershipStore(link, { revocationHoldMs: HOLD_MS })
  const events: string[] = []
  const bus = createEvictionBus(link, store, handlers(() => {}, {
    onSubscribed: again => events.push(again ? 'subscribed again' : 'subscribed'),
    onLost: reason => events.push(`lost: ${reason}`)
  }))
  t.teardown(() => bus.close())
  t.ok(await eventually(() => events.includes('subscribed'), 2000))
  relay.refuse(true)
  relay.cut()
  t.ok(await eventually(() => events.includes('lost: connection closed')))
  relay.refuse(false)
  t.ok(await eventually(() => events.includes('subscribed again'), 3000))
  t.same(events, ['subscribed', 'lost: connection closed', 'subscribed again'], 'each change once, however many attempts it took')
})

t.test('a subscription asked for while the connection is still in its handshake is made, and evictions reach it', { skip }, async t => {
  const prefix = redisPrefix(t)
  const a = await storeFor(t, prefix)
  const relay = await startRedisRelay(t)
  // Redis's answers wait in the relay: the connections are open, their handshakes not done. A
  // SUBSCRIBE sent now would reach Redis before ioredis's ready check (INFO), which Redis then
  // refuses on a subscribed connection: ioredis drops the connection and, never having been
  // ready, forgets the subscription.
  relay.hold()
  const link = createRedisLink({ url: `redis://${relay.address}`, keyPrefix: prefix, commandTimeoutMs: 1000, onStateChange: () => {} })
  t.teardown(() => link.close())
  t.ok(await eventually(() => link.subscriber.status === 'connect', 2000), 'the subscriber is in its handshake')
  const store = createRedisMembershipStore(link, { revocationHoldMs: HOLD_MS })
  const events: string[] = []
  const bus = createEvictionBus(link, store, handlers(e => events.push(`eviction ${e.userId}`), {
    onSubscribed: again => events.push(again ? 'subscribed again' : 'subscribed'),
    onLost: reason => events.push(`lost: ${reason}`)
  }))
  t.teardown(() => bus.close())
  // Time for a SUBSCRIBE to go out during the handshake, had the bus sent one now.
  await sleep(50)
  relay.release()
  t.ok(await eventually(() => events.includes('subscribed'), 3000), 'the subscription is confirmed')
  await untilSubscribed(prefix, 1, 3000)
  await a.link.client.publish(`${prefix}membership:evict`, JSON.stringify({ userId: USER, v: 2 }))
  t.ok(await eventually(() => events.includes(`eviction ${USER}`), 2000), 'and an eviction published after reaches it')
  t.same(events, ['subscribed', `eviction ${USER}`], 'nothing lost, nothing reported')
})

t.test('closing a Redis link whose connections went dead does not wait for ever', { skip }, async t => {
  const relay = await startRedisRelay(t)
  const link = createRedisLink({ url: `redis://${relay.address}`, keyPrefix: 'test:close:', commandTimeoutMs: 300, onStateChange: () => {} })
  t.ok(await link.waitUntilUp(2000))
  await link.subscriber.subscribe('test:close:channel')
  relay.stall()
  const started = Date.now()
  await link.close()
  t.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms: QUIT's answer, which never comes, is waited for REDIS_TIMEOUT_MS at most`)
})

t.test('a SUBSCRIBE the Redis user may not make is reported, never taken for a subscription', { skip: redisServerSkip() }, async t => {
  const own = await startOwnRedis(t)
  const admin = new Redis(own.url, { maxRetriesPerRequest: 0 })
  t.teardown(() => admin.disconnect())
  // A user that may run every command on every key, but may use no pub/sub channel.
  await admin.acl('SETUSER', 'nochannels', 'on', '>a-password-for-tests', '~*', 'resetchannels', '+@all')
  const url = new URL(own.url)
  url.username = 'nochannels'
  url.password = 'a-password-for-tests'
  const link = createRedisLink({ url: url.href, keyPrefix: 'test:acl:', commandTimeoutMs: 1000, onStateChange: () => {} })
  t.teardown(() => link.close())
  t.ok(await link.waitUntilUp(2000))
  const store = createRedisMembershipStore(link, { revocationHoldMs: HOLD_MS })
  const events: string[] = []
  const bus = createEvictionBus(link, store, handlers(() => {}, {
    onSubscribed: () => events.push('subscribed'),
    onLost: reason => events.push(`lost: ${reason}`)
  }))
  t.teardown(() => bus.close())
  t.ok(await eventually(() => events.length > 0, 2000))
  t.equal(events.length, 1)
  t.match(events[0], /^lost: connected but not subscribed \(NOPERM.*\): check the Redis user's channel permissions$/)
})

t.test('closing while a probe waits for its answer: nothing is reported afterwards, nothing is left to fire', { skip }, async t => {
  const relay = await startRedisRelay(t)
  const link = createRedisLink({ url: `redis://${relay.address}`, keyPrefix: 'test:probe-close:', commandTimeoutMs: 300, onStateChange: () => {} })
  const store = createRedisMembershipStore(link, { revocationHoldMs: HOLD_MS })
  const events: string[] = []
  const bus = createEvictionBus(link, store, handlers(() => {}, {
    onSubscribed: () => events.push('subscribed'),
    onLost: reason => events.push(`lost: ${reason}`)
  }), { everyMs: 50, timeoutMs: 400 })
  t.ok(await eventually(() => events.includes('subscribed'), 2000))
  relay.stall()
  // A probe's PING is out, unanswered.
  await sleep(120)
  await bus.close()
  await link.close()
  await sleep(600)
  t.same(events, ['subscribed'], 'no "lost" after close, no reconnection asked of a closed link')
  t.equal(link.subscriber.status, 'end')
})
