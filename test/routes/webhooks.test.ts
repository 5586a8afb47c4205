import t from 'tap'
import { createHmac } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import gateway from '../../app.ts'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { build, startFixtures, MEMBER, ORG, OTHER_ORG } from '../helper.ts'
import type { Fixtures, TestContext } from '../helper.ts'
import { TEST_REDIS_URL, eventually, redisPrefix, redisSkip, startRedisRelay, untilSubscribed } from '../fixtures/redis.ts'
import { openEventStream, startScriptedUpstream } from '../fixtures/scripted-upstream.ts'

const SECRET = 'whsec_test_do_not_leak'
const skipRedis = await redisSkip()

/** A WorkOS-Signature header as WorkOS computes it: HMAC-SHA256 of `<ms timestamp>.<body>`, hex. */
function sign (body: string, secret = SECRET, timestamp = Date.now()): string {
  return `t=${timestamp}, v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

function membershipEvent (event: string, userId = MEMBER, organizationId = ORG): string {
  return JSON.stringify({
    id: 'event_01TEST',
    event,
    data: { object: 'organization_membership', id: 'om_01TEST', user_id: userId, organization_id: organizationId, status: 'inactive', role: { slug: 'member' }, created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-02T00:00:00.000Z' },
    created_at: '2026-01-02T00:00:00.000Z'
  })
}

function userDeleted (userId = MEMBER): string {
  return JSON.stringify({
    id: 'event_01TESTUSER',
    event: 'user.deleted',
    data: { object: 'user', id: userId, email: 'member@example.test', email_verified: true, first_name: null, last_name: null, profile_picture_url: null, created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-02T00:00:00.000Z' },
    created_at: '2026-01-02T00:00:00.000Z'
  })
}

/** Posts an event; a null signature sends no WorkOS-Signature header at all. */
function deliver (app: FastifyInstance, body: string, signature: string | null = sign(body)): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/webhooks/workos',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'workos-signature': signature }) },
    payload: body
  })
}

function call (app: FastifyInstance, f: Fixtures, org = ORG): Promise<number> {
  return app.inject({ method: 'GET', url: `/${org}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token()}` } }).then(r => r.statusCode)
}

/** WorkOS stops listing the membership, as it does once it is deleted. */
function removeMembership (f: Fixtures, userId = MEMBER, organizationId = ORG): void {
  f.workos.memberships = f.workos.memberships.filter(m => m.userId !== userId || m.organizationId !== organizationId)
}

t.test('without WORKOS_WEBHOOK_SECRET the route does not exist', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const body = membershipEvent('organization_membership.deleted')
  const res = await deliver(app, body)
  t.equal(res.statusCode, 404)
})

t.test('a signed organization_membership.deleted evicts the membership: the next request is re-checked', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, WORKOS_WEBHOOK_SECRET: SECRET })
  t.equal(await call(app, f), 200)
  removeMembership(f)
  t.equal(await call(app, f), 200, 'cached: still admitted before the event')

  const res = await deliver(app, membershipEvent('organization_membership.deleted'))
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json(), { received: true, evicted: true })
  t.equal(await call(app, f), 403, 'the membership was looked up again and is gone')
  t.equal(f.workos.calls.length, 2)
  t.equal(f.upstream.requests.length, 2, 'nothing reached upstream after the revocation')
})

t.test('organization_membership.updated evicts too, and only that organization', async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: MEMBER, organizationId: OTHER_ORG, status: 'active', role: 'member' })
  const app = await build(t, { ...f.env, WORKOS_WEBHOOK_SECRET: SECRET })
  t.equal(await call(app, f), 200)
  t.equal(await call(app, f, OTHER_ORG), 200)
  t.equal((await deliver(app, membershipEvent('organization_membership.updated'))).statusCode, 200)
  await call(app, f)
  await call(app, f, OTHER_ORG)
  t.same(f.workos.calls.map(c => c.organizationId), [ORG, OTHER_ORG, ORG], 'only the updated membership was asked about again')
})

t.test('user.deleted evicts every organization of that user', async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: MEMBER, organizationId: OTHER_ORG, status: 'active', role: 'member' })
  const app = await build(t, { ...f.env, WORKOS_WEBHOOK_SECRET: SECRET })
  await call(app, f)
  await call(app, f, OTHER_ORG)
  t.equal((await deliver(app, userDeleted())).statusCode, 200)
  await call(app, f)
  await call(app, f, OTHER_ORG)
  t.equal(f.workos.calls.length, 4)
})

t.test('an event about something else is acknowledged and changes nothing', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, WORKOS_WEBHOOK_SECRET: SECRET })
  await call(app, f)
  const res = await deliver(app, membershipEvent('organization_membership.created'))
  t.same(res.json(), { received: true, evicted: false })
  await call(app, f)
  t.equal(f.workos.calls.length, 1)
})

t.test('a forged webhook is refused with 401 and nothing changes', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, WORKOS_WEBHOOK_SECRET: SECRET })
  t.equal(await call(app, f), 200)
  removeMembership(f)
  const body = membershipEvent('organization_membership.deleted')
  const forgeries: Array<[string, string, string | null]> = [
    ['another secret', body, sign(body, 'whsec_attacker')],
    ['no signature', body, null],
    ['a garbled header', body, 'nonsense'],
    ['a body changed after signing', body.replace(MEMBER, 'user_01SOMEONEELSE000000000000'), sign(body)],
    ['a timestamp far in the past (replay)', body, sign(body, SECRET, Date.now() - 3600_000)]
  ]
  for (const [name, payload, signature] of forgeries) {
    const res = await deliver(app, payload, signature)
    t.equal(res.statusCode, 401, name)
    t.match(res.json(), { error: 'invalid_signature', error_description: String }, name)
    t.notMatch(res.body, SECRET, name)
  }
  t.equal(await call(app, f), 200, 'the cached membership is still there: nothing was evicted')
  t.equal(f.workos.calls.length, 1)
})

t.test('a webhook body that is not JSON is refused by content type', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, WORKOS_WEBHOOK_SECRET: SECRET })
  const res = await app.inject({ method: 'POST', url: '/webhooks/workos', headers: { 'content-type': 'text/plain', 'workos-signature': sign('x') }, payload: 'x' })
  t.equal(res.statusCode, 415)
})

t.test('with Redis, a signed webhook to one instance evicts the membership on both within a second', { skip: skipRedis }, async t => {
  const f = await startFixtures(t)
  const env = { ...f.env, WORKOS_WEBHOOK_SECRET: SECRET, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: redisPrefix(t) }
  const [a, b] = [await build(t, env), await build(t, env)]
  await untilSubscribed(env.REDIS_KEY_PREFIX, 2)
  t.equal(await call(a, f), 200)
  t.equal(await call(b, f), 200)
  t.equal(f.workos.calls.length, 1, 'both instances hold the shared answer')
  removeMembership(f)

  const res = await deliver(a, membershipEvent('organization_membership.deleted'))
  t.equal(res.statusCode, 200, res.body)
  const sent = Date.now()
  t.ok(await eventually(async () => await call(b, f) === 403, 1000), 'instance b refuses the user within a second')
  t.ok(Date.now() - sent < 1000)
  t.equal(await call(a, f), 403, 'and so does instance a')
  const before = f.upstream.requests.length
  t.equal(await call(b, f), 403)
  t.equal(f.upstream.requests.length, before, 'nothing more reached upstream')
})

t.test('with Redis, a forged webhook evicts nothing on any instance', { skip: skipRedis }, async t => {
  const f = await startFixtures(t)
  const env = { ...f.env, WORKOS_WEBHOOK_SECRET: SECRET, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: redisPrefix(t) }
  const [a, b] = [await build(t, env), await build(t, env)]
  await call(a, f)
  await call(b, f)
  const body = membershipEvent('organization_membership.deleted')
  t.equal((await deliver(a, body, sign(body, 'whsec_attacker'))).statusCode, 401)
  // Time for a publish to arrive, had there been one.
  await new Promise(resolve => setTimeout(resolve, 200))
  t.equal(await call(a, f), 200)
  t.equal(await call(b, f), 200)
  t.equal(f.workos.calls.length, 1)
})

for (const [kind, event] of [['one membership', () => membershipEvent('organization_membership.deleted')], ['a deleted user', () => userDeleted()]] as const) {
  t.test(`with Redis, a look-up answered before the revocation (${kind}) is not written back for the fleet`, { skip: skipRedis }, async t => {
    const f = await startFixtures(t)
    const env = { ...f.env, WORKOS_WEBHOOK_SECRET: SECRET, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: redisPrefix(t) }
    // Instance b reaches Redis through a relay that can hold what Redis sends back. The eviction a
    // publishes then reaches b only after b has WorkOS's answer, as a slow network or a busy
    // event loop would have it; what b sends to Redis still arrives at once.
    const relay = await startRedisRelay(t)
    const a = await build(t, env)
    const b = await build(t, { ...env, REDIS_URL: `redis://${relay.address}` })
    // Both subscribed in Redis, so the eviction below is sent to b as a message.
    await untilSubscribed(env.REDIS_KEY_PREFIX, 2)
    // WorkOS answers b's look-up "member"; then the membership is deleted and the webhook reaches
    // a, while that answer is still on its way to b.
    f.workos.delayMs = 300
    const inFlight = call(b, f)
    t.ok(await eventually(async () => f.workos.calls.length === 1, 1000), 'b asked WorkOS')
    relay.hold()
    removeMembership(f)
    t.equal((await deliver(a, event())).statusCode, 200)
    t.equal(await inFlight, 200, 'the request that was in flight before the revocation is answered')
    // b's late answer, had it been written, is in Redis by now: the write follows the answer.
    await new Promise(resolve => setTimeout(resolve, 100))
    relay.release()
    f.workos.delayMs = 0

    t.ok(await eventually(async () => await call(b, f) === 403, 1000), 'b refuses the user once it hears of the eviction')
    const reached = f.upstream.requests.length
    t.equal(await call(a, f), 403, 'a does not take b\'s late answer from Redis')
    t.equal(await call(b, f), 403, 'nor does b, asking again')
    t.equal(f.upstream.requests.length, reached, 'nothing more reached upstream')
  })
}

t.test('with Redis, an instance that was not listening when a revocation was sent drops its local copies once it is back', { skip: skipRedis }, async t => {
  const f = await startFixtures(t)
  const env = { ...f.env, WORKOS_WEBHOOK_SECRET: SECRET, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: redisPrefix(t) }
  const relay = await startRedisRelay(t)
  const a = await build(t, env)
  const { app: b, base } = await listeningBase(t, { ...env, REDIS_URL: `redis://${relay.address}` })
  // b's first subscription in place (it drops what it holds once it is confirmed, too).
  await untilSubscribed(env.REDIS_KEY_PREFIX, 2)
  await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(await call(b, f), 200)
  t.equal(await call(b, f), 200, 'b holds the member in its own cache')
  t.equal(f.workos.calls.length, 1)
  const stream = await openStream(base, f, MEMBER, ORG)

  // b loses Redis (both its connections); meanwhile the membership is revoked through a.
  relay.refuse(true)
  relay.cut()
  removeMembership(f)
  t.equal((await deliver(a, membershipEvent('organization_membership.deleted'))).statusCode, 200)
  t.equal(await call(b, f), 200, 'while Redis is out of reach b serves what it holds, as documented')
  relay.refuse(false)

  t.ok(await eventually(async () => await call(b, f) === 403, 5000), 'once back, b no longer admits the revoked member')
  t.ok(await settlesWithin(stream.ended, 1000), 'and the event stream it held for them has ended')
})

const COLLEAGUE = 'user_01COLLEAGUE0000000000000'

/** Opens the upstream's endless event stream (an event every 50 ms) as `sub` in `org`. */
async function openStream (base: string, f: Fixtures, sub: string, org: string): Promise<{ text: () => string, ended: Promise<void> }> {
  const res = await fetch(`${base}/${org}/mcp/raw/sse`, { headers: { authorization: `Bearer ${f.token(sub)}`, accept: 'text/event-stream' } })
  if (res.status !== 200) throw new Error(`stream answered ${res.status}`)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  const ended = (async () => {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      text += decoder.decode(value, { stream: true })
    }
  })()
  return { text: () => text, ended }
}

async function listeningBase (t: TestContext, env: Record<string, string>): Promise<{ app: FastifyInstance, base: string }> {
  const app = await build(t, env)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
}

/** The gateway registered in a host's plain `Fastify()` (no logger), listening. */
async function embeddedBase (t: TestContext, env: Record<string, string>): Promise<{ app: FastifyInstance, base: string }> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(gateway, { env })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
}

/** Resolves true once `promise` has settled, false if it has not after `ms`. */
async function settlesWithin (promise: Promise<unknown>, ms: number): Promise<boolean> {
  return await Promise.race([promise.then(() => true, () => true), new Promise<boolean>(resolve => setTimeout(() => resolve(false), ms))])
}

t.test('a revocation ends the user\'s open event streams in that organization, and only those', async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: MEMBER, organizationId: OTHER_ORG, status: 'active', role: 'member' })
  f.workos.addMembership({ userId: COLLEAGUE, organizationId: ORG, status: 'active', role: 'member' })
  const { app, base } = await listeningBase(t, { ...f.env, WORKOS_WEBHOOK_SECRET: SECRET })
  const revoked = await openStream(base, f, MEMBER, ORG)
  const otherOrg = await openStream(base, f, MEMBER, OTHER_ORG)
  const colleague = await openStream(base, f, COLLEAGUE, ORG)
  t.ok(await eventually(() => revoked.text().includes('data: {"n":2}')), 'the stream flows')

  removeMembership(f)
  t.equal((await deliver(app, membershipEvent('organization_membership.deleted'))).statusCode, 200)
  t.ok(await settlesWithin(revoked.ended, 1000), 'the revoked member\'s stream ended at once')
  t.ok(revoked.text().endsWith('\n\n'), 'cleanly, between events')

  const before = { other: otherOrg.text().length, colleague: colleague.text().length }
  t.ok(await eventually(() => otherOrg.text().length > before.other && colleague.text().length > before.colleague), 'the user\'s stream in another organization, and a colleague\'s, go on')
  t.notOk(await settlesWithin(otherOrg.ended, 100))

  const reached = f.upstream.requests.length
  const again = await fetch(`${base}/${ORG}/mcp/raw/sse`, { headers: { authorization: `Bearer ${f.token()}`, accept: 'text/event-stream' } })
  t.equal(again.status, 403, 'the client\'s reconnection is refused')
  await again.body?.cancel()
  t.equal(f.upstream.requests.length, reached, 'and reaches nothing upstream')
})

t.test('with Redis, a revocation sent to one instance ends the user\'s streams on another', { skip: skipRedis }, async t => {
  const f = await startFixtures(t)
  const env = { ...f.env, WORKOS_WEBHOOK_SECRET: SECRET, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: redisPrefix(t) }
  const a = await build(t, env)
  const b = await listeningBase(t, env)
  await untilSubscribed(env.REDIS_KEY_PREFIX, 2)
  const stream = await openStream(b.base, f, MEMBER, ORG)
  t.ok(await eventually(() => stream.text().includes('data: {"n":1}')))
  removeMembership(f)
  t.equal((await deliver(a, userDeleted())).statusCode, 200)
  t.ok(await settlesWithin(stream.ended, 1000), 'the stream on instance b ended within a second')
})

for (const embedded of [false, true]) {
  t.test(`a stream whose request came in before the revocation, and whose upstream answers only after it, ends as it opens${embedded ? ' (embedded in a host app without a logger)' : ''}`, async t => {
    const f = await startFixtures(t)
    const scripted = await startScriptedUpstream()
    t.teardown(() => scripted.close())
    const env = { ...f.env, WORKOS_WEBHOOK_SECRET: SECRET, RAGIE_MCP_SERVER_URL: scripted.url }
    // A host's own Fastify() has no logger: Fastify then keeps no start time for its replies.
    const { app, base } = embedded ? await embeddedBase(t, env) : await listeningBase(t, env)
    const answer = fetch(`${base}/${ORG}/mcp`, { headers: { authorization: `Bearer ${f.token()}`, accept: 'text/event-stream' } })
    const upstream = await scripted.next()
    // Admitted, sent to Ragie, Ragie slow to answer: the membership is revoked meanwhile.
    removeMembership(f)
    t.equal((await deliver(app, membershipEvent('organization_membership.deleted'))).statusCode, 200)
    openEventStream(upstream.res)
    upstream.res.write('id: 1\ndata: {"after":"the revocation"}\n\n')
    const res = await answer
    t.equal(res.status, 200, 'the headers were Ragie\'s')
    const body = await Promise.race([res.text(), new Promise<string>(resolve => setTimeout(() => resolve('(still open)'), 1000))])
    t.equal(body, '', 'the stream ended at once, cleanly, with nothing of Ragie\'s events')
    t.ok(await eventually(() => upstream.closed), 'and the upstream request was closed')
  })
}
