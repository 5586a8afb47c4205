import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { build, startFixtures, upstreamCount, ORG, OTHER_ORG, MEMBER, STRANGER, WORKOS_KEY } from '../helper.ts'
import type { Fixtures } from '../helper.ts'

const ADMIN = 'user_01ADMIN00000000000000000'

/** One proxied request as `sub`, to the upstream's plain-HTTP echo. */
function call (app: FastifyInstance, f: Fixtures, sub = MEMBER, org = ORG): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: `/${org}/mcp/raw/echo`,
    headers: { authorization: `Bearer ${f.token(sub)}`, 'content-type': 'application/json' },
    payload: '{}'
  })
}

/** What a refusal looks like to the client, to compare with FORBIDDEN. */
function refusal (res: LightMyRequestResponse) {
  return {
    status: res.statusCode,
    type: res.headers['content-type'],
    body: res.json(),
    reauthenticate: 'www-authenticate' in res.headers
  }
}

/** A 403 JSON refusal that does not send the client back to sign in (no WWW-Authenticate loop). */
const FORBIDDEN = { status: 403, type: /^application\/json/, body: { error: 'forbidden', error_description: String }, reauthenticate: false }

t.test('member gets 200 and the upstream received the request', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const res = await call(app, f)
  t.equal(res.statusCode, 200, res.body)
  t.equal(upstreamCount(f), 1)
  t.equal(f.upstream.requests[0].url, `/mcp/${ORG.toLowerCase()}/raw/echo`)
})

t.test('the WorkOS look-up carries the API key and asks for the active membership of this user in this org', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  await call(app, f)
  t.equal(f.workos.calls.length, 1)
  t.match(f.workos.calls[0], { authorization: `Bearer ${WORKOS_KEY}`, statuses: 'active', userId: MEMBER, organizationId: ORG })
})

t.test('non-member gets 403 and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  t.match(refusal(await call(app, f, STRANGER)), FORBIDDEN)
  t.equal(upstreamCount(f), 0)
})

t.test('pending membership gets 403 and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: STRANGER, organizationId: ORG, status: 'pending', role: 'member' })
  const app = await build(t, f.env)
  t.match(refusal(await call(app, f, STRANGER)), FORBIDDEN)
  t.equal(upstreamCount(f), 0)
})

t.test('inactive membership gets 403 and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: STRANGER, organizationId: ORG, status: 'inactive', role: 'member' })
  const app = await build(t, f.env)
  t.match(refusal(await call(app, f, STRANGER)), FORBIDDEN)
  t.equal(upstreamCount(f), 0)
})

t.test('a member of another organization only gets 403 here', async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: STRANGER, organizationId: OTHER_ORG, status: 'active', role: 'admin' })
  const app = await build(t, f.env)
  t.match(refusal(await call(app, f, STRANGER, ORG)), FORBIDDEN)
  t.equal(upstreamCount(f), 0)
  const own = await call(app, f, STRANGER, OTHER_ORG)
  t.equal(own.statusCode, 200, 'while their own organization works')
  t.equal(f.upstream.requests[0].partition, OTHER_ORG.toLowerCase())
})

t.test('a role outside allowedRoles gets 403 and nothing reaches upstream; an allowed role passes', async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: ADMIN, organizationId: ORG, status: 'active', role: 'admin' })
  const dir = t.testdir({ 'mapping.json': JSON.stringify({ [ORG]: { partition: 'soc2', allowedRoles: ['admin'] } }) })
  const app = await build(t, { ...f.env, MAPPING_FILE: join(dir, 'mapping.json') })
  t.match(refusal(await call(app, f, MEMBER)), FORBIDDEN)
  t.equal(upstreamCount(f), 0)
  const admin = await call(app, f, ADMIN)
  t.equal(admin.statusCode, 200, admin.body)
  t.equal(upstreamCount(f), 1)
  t.equal(f.upstream.requests[0].partition, 'soc2')
})

t.test('WorkOS down gets 503 with Retry-After and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  f.workos.mode = 'down'
  const app = await build(t, { ...f.env, RETRY_AFTER_SECONDS: '9' })
  const res = await call(app, f)
  t.equal(res.statusCode, 503, res.body)
  t.equal(res.headers['retry-after'], '9')
  t.match(res.json(), { error: 'temporarily_unavailable', error_description: String })
  t.notMatch(res.body, /127\.0\.0\.1|workos/i, 'the body names no internal host')
  t.notOk(res.headers['www-authenticate'])
  t.equal(upstreamCount(f), 0)
})

t.test('WorkOS rate-limiting gets 503 with its own Retry-After', async t => {
  const f = await startFixtures(t)
  f.workos.mode = 'rate-limited'
  const app = await build(t, f.env)
  const res = await call(app, f)
  t.equal(res.statusCode, 503, res.body)
  t.equal(res.headers['retry-after'], '7')
  t.equal(upstreamCount(f), 0)
  // WorkOS asked for 7 s: another user's look-up within them does not call it.
  f.workos.addMembership({ userId: ADMIN, organizationId: ORG, status: 'active', role: 'admin' })
  f.workos.mode = 'ok'
  const calls = f.workos.calls.length
  const other = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token(ADMIN)}` } })
  t.equal(other.statusCode, 503, 'another user within the wait')
  t.ok(Number(other.headers['retry-after']) <= 7)
  t.equal(f.workos.calls.length, calls, 'WorkOS was not asked')
})

t.test('WorkOS not answering gets 503 after the configured timeout', async t => {
  const f = await startFixtures(t)
  f.workos.mode = 'hang'
  const app = await build(t, { ...f.env, WORKOS_TIMEOUT_MS: '300' })
  const res = await call(app, f)
  t.equal(res.statusCode, 503, res.body)
  t.ok(res.headers['retry-after'])
  t.equal(upstreamCount(f), 0)
})

t.test('a WorkOS failure is never cached as non-member', async t => {
  const f = await startFixtures(t)
  f.workos.mode = 'down'
  const app = await build(t, f.env)
  t.equal((await call(app, f)).statusCode, 503)
  f.workos.mode = 'ok'
  const res = await call(app, f)
  t.equal(res.statusCode, 200, res.body)
  t.equal(f.workos.calls.length, 2, 'the second request asked WorkOS again')
})

t.test('a member is looked up once while cached', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  t.equal((await call(app, f)).statusCode, 200)
  t.equal((await call(app, f)).statusCode, 200)
  t.equal(f.workos.calls.length, 1)
  t.equal(upstreamCount(f), 2)
})

t.test('a non-member is looked up once while cached', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  t.equal((await call(app, f, STRANGER)).statusCode, 403)
  t.equal((await call(app, f, STRANGER)).statusCode, 403)
  t.equal(f.workos.calls.length, 1)
})

t.test('the cache is per (user, organization)', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  t.equal((await call(app, f, MEMBER, ORG)).statusCode, 200)
  t.equal((await call(app, f, MEMBER, OTHER_ORG)).statusCode, 403, 'a cached membership in ORG does not admit to OTHER_ORG')
  t.equal((await call(app, f, STRANGER, ORG)).statusCode, 403)
  t.equal(f.workos.calls.length, 3)
  t.same(f.upstream.requests.map(r => r.partition), [ORG.toLowerCase()], 'only the member\'s call in ORG reached Ragie, in ORG\'s partition')
})

t.test('cached members are unaffected when WorkOS goes down', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  t.equal((await call(app, f)).statusCode, 200)
  f.workos.mode = 'down'
  const res = await call(app, f)
  t.equal(res.statusCode, 200, res.body)
  t.equal(f.workos.calls.length, 1)
  t.equal((await call(app, f, STRANGER)).statusCode, 503, 'an uncached user still fails closed')
})

t.test('MEMBERSHIP_TTL_SECONDS=0 asks WorkOS on every request, so a removed member loses access at once', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, MEMBERSHIP_TTL_SECONDS: '0' })
  t.equal((await call(app, f)).statusCode, 200)
  t.equal((await call(app, f)).statusCode, 200)
  t.equal(f.workos.calls.length, 2)
  f.workos.memberships.length = 0
  t.match(refusal(await call(app, f)), FORBIDDEN)
  t.equal(upstreamCount(f), 2)
})

t.test('MEMBERSHIP_NEGATIVE_TTL_SECONDS=0 lets a newly added member in at the next request', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, MEMBERSHIP_NEGATIVE_TTL_SECONDS: '0' })
  t.equal((await call(app, f, STRANGER)).statusCode, 403)
  f.workos.addMembership({ userId: STRANGER, organizationId: ORG, status: 'active', role: 'member' })
  t.equal((await call(app, f, STRANGER)).statusCode, 200)
  t.equal(f.workos.calls.length, 2)
})

t.test('the default TTLs cache both answers: a revoked member keeps access and a new one waits', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  t.equal((await call(app, f)).statusCode, 200)
  t.equal((await call(app, f, STRANGER)).statusCode, 403)
  f.workos.memberships.length = 0
  f.workos.addMembership({ userId: STRANGER, organizationId: ORG, status: 'active', role: 'member' })
  t.equal((await call(app, f)).statusCode, 200)
  t.equal((await call(app, f, STRANGER)).statusCode, 403)
  t.equal(f.workos.calls.length, 2)
  t.equal(upstreamCount(f), 2, 'the two refusals reached nothing upstream')
})

t.test('20 concurrent requests of one member share one WorkOS call', async t => {
  const f = await startFixtures(t)
  f.workos.delayMs = 200
  const app = await build(t, f.env)
  const responses = await Promise.all(Array.from({ length: 20 }, () => call(app, f)))
  t.same(responses.map(r => r.statusCode), Array(20).fill(200))
  t.equal(f.workos.calls.length, 1)
  t.equal(upstreamCount(f), 20)
})

t.test('20 concurrent requests while WorkOS is down share one call and all get 503', async t => {
  const f = await startFixtures(t)
  f.workos.delayMs = 200
  f.workos.mode = 'down'
  const app = await build(t, f.env)
  const responses = await Promise.all(Array.from({ length: 20 }, () => call(app, f)))
  t.same(responses.map(r => r.statusCode), Array(20).fill(503))
  t.equal(f.workos.calls.length, 1)
  t.equal(upstreamCount(f), 0)
})

t.test('a mapping file does not change who is a member', async t => {
  const f = await startFixtures(t)
  const dir = t.testdir({})
  const file = join(dir, 'mapping.json')
  writeFileSync(file, JSON.stringify({ [ORG]: 'soc2' }))
  const app = await build(t, { ...f.env, MAPPING_FILE: file })
  t.match(refusal(await call(app, f, STRANGER)), FORBIDDEN)
  t.equal(upstreamCount(f), 0)
  t.match(f.workos.calls[0], { organizationId: ORG, userId: STRANGER }, 'WorkOS is asked about the organization id, not the partition')
})

t.test('a signed-in user naming made-up organizations costs WorkOS at most MEMBERSHIP_LOOKUPS_PER_USER_PER_MIN calls a minute', async t => {
  // Any AuthKit user may put any organization id in the URL (the client id is a valid audience
  // for every tenant): each new one was a WorkOS call, until WorkOS rate-limited the gateway.
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, MEMBERSHIP_LOOKUPS_PER_USER_PER_MIN: '3' })
  const authorization = `Bearer ${f.token(MEMBER)}`
  const get = (org: string) => app.inject({ method: 'GET', url: `/${org}/mcp/raw/echo`, headers: { authorization } })
  t.equal((await get(ORG)).statusCode, 200, 'their own organization')
  const statuses: number[] = []
  for (let i = 0; i < 6; i++) statuses.push((await get(`org_01MADEUP${i}`)).statusCode)
  t.same(statuses, [403, 403, 429, 429, 429, 429], 'two more look-ups, then 429')
  const refused = await get('org_01MADEUPX')
  t.same(refused.json(), { error: 'too_many_requests', error_description: 'too many organizations looked up for this user, retry later' })
  t.ok(Number(refused.headers['retry-after']) > 0 && Number(refused.headers['retry-after']) <= 60, 'with Retry-After')
  t.equal(f.workos.calls.length, 3, 'WorkOS was called three times in all')
  t.equal((await get(ORG)).statusCode, 200, 'their own organization, cached, still works')
  t.equal(upstreamCount(f), 2, 'only the member\'s two requests reached Ragie')
})
