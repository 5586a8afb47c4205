import t from 'tap'
import type { FastifyInstance } from 'fastify'
import Fastify from 'fastify'
import gateway from '../../app.ts'
import { build, captureLogs, startFixtures, upstreamCount, MEMBER, ORG } from '../helper.ts'
import type { Fixtures, TestContext } from '../helper.ts'
import { TEST_REDIS_URL, eventually, redisPrefix, redisServerSkip, redisSkip, startOwnRedis } from '../fixtures/redis.ts'

const ADMIN = 'user_01ADMIN00000000000000000'
const skip = await redisSkip()
const ownSkip = redisServerSkip()

function call (app: FastifyInstance, f: Fixtures, sub = MEMBER): Promise<number> {
  return app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token(sub)}` } }).then(r => r.statusCode)
}

/** Look-ups of `sub` WorkOS has answered. */
function lookups (f: Fixtures, sub = MEMBER): number {
  return f.workos.calls.filter(c => c.userId === sub).length
}

async function buildWithLogs (t: TestContext, env: Record<string, string>, logs: ReturnType<typeof captureLogs>): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: 'info', stream: logs.stream } })
  t.teardown(() => app.close())
  await app.register(gateway, { env })
  await app.ready()
  return app
}

t.test('two instances share the membership cache: the second asks Redis, not WorkOS', { skip }, async t => {
  const f = await startFixtures(t)
  const env = { ...f.env, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: redisPrefix(t) }
  const [a, b] = [await build(t, env), await build(t, env)]

  t.equal(await call(a, f), 200)
  t.equal(lookups(f), 1)
  t.equal(await call(b, f), 200)
  t.equal(lookups(f), 1, 'instance b found the answer instance a stored')
  t.equal(upstreamCount(f), 2)

  t.equal(await call(a, f, ADMIN), 403, 'a non-member is refused')
  t.equal(await call(b, f, ADMIN), 403)
  t.equal(lookups(f, ADMIN), 1, 'and the "not a member" answer is shared too')
  t.equal(upstreamCount(f), 2)
})

t.test('MEMBERSHIP_TTL_SECONDS=0 caches nothing, in memory or in Redis', { skip }, async t => {
  const f = await startFixtures(t)
  const env = { ...f.env, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: redisPrefix(t), MEMBERSHIP_TTL_SECONDS: '0' }
  const [a, b] = [await build(t, env), await build(t, env)]
  t.equal(await call(a, f), 200)
  t.equal(await call(b, f), 200)
  t.equal(await call(a, f), 200)
  t.equal(lookups(f), 3)
})

t.test('a WorkOS failure is not cached in Redis', { skip }, async t => {
  const f = await startFixtures(t)
  const env = { ...f.env, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: redisPrefix(t) }
  const [a, b] = [await build(t, env), await build(t, env)]
  f.workos.mode = 'down'
  t.equal(await call(a, f), 503)
  f.workos.mode = 'ok'
  t.equal(await call(b, f), 200, 'the other instance asks WorkOS again')
  t.equal(lookups(f), 2)
})

t.test('Redis stopped mid-run: cached members are served, unknown users get 503, and it reconnects', { skip: ownSkip }, async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: ADMIN, organizationId: ORG, status: 'active', role: 'admin' })
  const redis = await startOwnRedis(t)
  const logs = captureLogs()
  const app = await buildWithLogs(t, { ...f.env, REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '200', RETRY_AFTER_SECONDS: '3' }, logs)

  t.equal(await call(app, f), 200)
  await redis.stop()

  const started = Date.now()
  t.equal(await call(app, f), 200, 'a member this instance has cached is still served')
  const res = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token(ADMIN)}` } })
  t.equal(res.statusCode, 503, 'a user this instance has not seen is refused: fail closed')
  t.equal(res.headers['retry-after'], '3')
  t.ok(Date.now() - started < 2000, 'and nothing waited on the dead Redis')
  t.equal(lookups(f, ADMIN), 0, 'WorkOS was not asked on this instance\'s own word')
  t.equal(upstreamCount(f), 2)
  t.ok(await eventually(() => logs.lines.some(l => /redis unreachable/.test(l))), 'the log says Redis is down')
  t.notOk(logs.lines.some(l => l.includes(f.env.WORKOS_API_KEY) || l.includes(f.env.RAGIE_API_KEY)))

  await redis.start()
  t.ok(await eventually(async () => await call(app, f, ADMIN) === 200, 5000), 'once Redis is back, the unknown user is looked up')
  t.ok(logs.lines.some(l => /redis connected/.test(l)))
})

t.test('a gateway whose Redis never answers still starts and serves nobody unknown', { skip: ownSkip }, async t => {
  const f = await startFixtures(t)
  const redis = await startOwnRedis(t)
  await redis.stop()
  const logs = captureLogs()
  const app = await buildWithLogs(t, { ...f.env, REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '200' }, logs)
  t.equal(await call(app, f), 503)
  t.equal(upstreamCount(f), 0)
  t.ok(logs.lines.some(l => /redis not reachable at start/.test(l)))
  for (let i = 0; i < 20; i++) t.equal(await call(app, f, `user_01UNKNOWN${i}`), 503)
  const failures = logs.lines.filter(l => /shared membership cache failed/.test(l))
  t.equal(failures.length, 1, 'one line, not one per refused request')
  t.equal(JSON.parse(failures[0]).failures, 1, 'saying how many failures it stands for')
})
