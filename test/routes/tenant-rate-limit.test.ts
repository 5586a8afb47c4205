import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { build, startFixtures, upstreamCount, MEMBER, ORG } from '../helper.ts'
import type { Fixtures } from '../helper.ts'
import { TEST_REDIS_URL, redisPrefix, redisSkip } from '../fixtures/redis.ts'

const SECOND = 'user_01SECOND0000000000000000'
const skip = await redisSkip()

function call (app: FastifyInstance, f: Fixtures, sub = MEMBER, token = f.token(sub)): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: '{}' })
}

t.test('off by default: no limit, no rate-limit headers', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  for (let i = 0; i < 30; i++) {
    const res = await call(app, f)
    t.equal(res.statusCode, 200)
    t.notOk(res.headers['x-ratelimit-limit'])
  }
})

t.test('RATE_LIMIT_USER_PER_MIN: past it, 429 with Retry-After and the standard headers, and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: SECOND, organizationId: ORG, status: 'active', role: 'member' })
  const app = await build(t, { ...f.env, RATE_LIMIT_USER_PER_MIN: '3' })
  for (const remaining of ['2', '1', '0']) {
    const res = await call(app, f)
    t.equal(res.statusCode, 200)
    t.match(res.headers, { 'x-ratelimit-limit': '3', 'x-ratelimit-remaining': remaining, 'x-ratelimit-reset': /^[0-9]+$/ })
  }
  const refused = await call(app, f)
  t.equal(refused.statusCode, 429)
  t.match(refused.json(), { error: 'too_many_requests', error_description: String })
  t.match(refused.headers, { 'retry-after': /^[1-9][0-9]*$/, 'x-ratelimit-limit': '3', 'x-ratelimit-remaining': '0' })
  t.ok(Number(refused.headers['retry-after']) <= 60)
  t.equal(upstreamCount(f), 3)
  t.equal((await call(app, f, SECOND)).statusCode, 200, 'another user has a limit of their own')
})

t.test('RATE_LIMIT_ORG_PER_MIN is shared by the users of one organization', async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: SECOND, organizationId: ORG, status: 'active', role: 'member' })
  const app = await build(t, { ...f.env, RATE_LIMIT_ORG_PER_MIN: '3', RATE_LIMIT_USER_PER_MIN: '100' })
  t.equal((await call(app, f)).statusCode, 200)
  t.equal((await call(app, f, SECOND)).statusCode, 200)
  const third = await call(app, f)
  t.equal(third.statusCode, 200)
  t.equal(third.headers['x-ratelimit-limit'], '3', 'the headers name the limit closest to running out')
  t.equal((await call(app, f, SECOND)).statusCode, 429)
  t.equal(upstreamCount(f), 3)
})

t.test('keyed after authentication: refused requests use up nobody\'s limit', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, RATE_LIMIT_USER_PER_MIN: '2', RATE_LIMIT_ORG_PER_MIN: '2' })
  for (let i = 0; i < 5; i++) {
    t.equal((await call(app, f, MEMBER, 'not-a-jwt')).statusCode, 401)
    t.equal((await call(app, f, 'user_01STRANGER00000000000000')).statusCode, 403)
  }
  t.equal((await call(app, f)).statusCode, 200)
  t.equal((await call(app, f)).statusCode, 200)
  t.equal((await call(app, f)).statusCode, 429)
})

t.test('with Redis, two instances share one limit', { skip }, async t => {
  const f = await startFixtures(t)
  const env = { ...f.env, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: redisPrefix(t), RATE_LIMIT_USER_PER_MIN: '4' }
  const [a, b] = [await build(t, env), await build(t, env)]
  const statuses = []
  for (const app of [a, b, a, b, a, b]) statuses.push((await call(app, f)).statusCode)
  t.same(statuses, [200, 200, 200, 200, 429, 429], 'the fifth request is refused whichever instance gets it')
  t.equal(upstreamCount(f), 4)
  const refused = await call(b, f)
  t.equal(refused.headers['x-ratelimit-remaining'], '0')
  t.ok(Number(refused.headers['retry-after']) >= 1)
})
