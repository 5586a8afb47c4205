import t from 'tap'
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import rateLimit from '@fastify/rate-limit'
import gateway from '../app.ts'
import { startFixtures, ORG, MEMBER, RAGIE_KEY } from './helper.ts'

t.test('a host Fastify app registers the gateway beside its own routes and its own @fastify/jwt', async t => {
  const f = await startFixtures(t)
  const host = Fastify()
  t.teardown(() => host.close())
  // The host's own JWT setup and routes must keep working with the gateway inside.
  await host.register(fastifyJwt, { secret: 'host-secret' })
  host.get('/hello', async () => ({ hello: 'world' }))
  host.get('/me', async request => {
    await request.jwtVerify()
    return { user: request.user }
  })
  await host.register(gateway, { env: f.env })
  await host.ready()

  t.same((await host.inject('/hello')).json(), { hello: 'world' })
  const hostToken = host.jwt.sign({ name: 'host user' })
  const me = await host.inject({ url: '/me', headers: { authorization: `Bearer ${hostToken}` } })
  t.equal(me.statusCode, 200)
  t.equal(me.json().user.name, 'host user')

  const proxied = await host.inject({
    method: 'POST',
    url: `/${ORG}/mcp/raw/echo`,
    headers: { authorization: `Bearer ${f.token(MEMBER)}`, 'content-type': 'application/json' },
    payload: '{"jsonrpc":"2.0"}'
  })
  t.equal(proxied.statusCode, 200)
  t.equal(f.upstream.requests.length, 1)
  t.equal(f.upstream.requests[0].headers.authorization, `Bearer ${RAGIE_KEY}`)

  const hostTokenOnGateway = await host.inject({ method: 'POST', url: `/${ORG}/mcp`, headers: { authorization: `Bearer ${hostToken}` } })
  t.equal(hostTokenOnGateway.statusCode, 401, 'a token of the host is not an AuthKit token')
  t.equal(f.upstream.requests.length, 1, 'and it reached nothing upstream')
})

t.test('a bad configuration makes the host app fail to start with a ConfigError', async t => {
  const host = Fastify()
  t.teardown(() => host.close())
  host.register(gateway, { env: { BASE_URL: 'https://x.test' } })
  await t.rejects(async () => { await host.ready() }, { name: 'ConfigError', message: 'RAGIE_API_KEY is required' })
})

t.test('a host app with its own @fastify/rate-limit keeps it, and the gateway keeps its limits', async t => {
  const f = await startFixtures(t)
  const host = Fastify()
  t.teardown(() => host.close())
  await host.register(rateLimit, { global: false, max: 1000, timeWindow: 60_000 })
  host.get('/hello', { config: { rateLimit: { max: 1, timeWindow: 60_000 } } }, async () => ({ hello: 'world' }))
  await host.register(gateway, { env: { ...f.env, RATE_LIMIT_USER_PER_MIN: '2' } })
  await host.ready()

  const call = () => host.inject({ method: 'POST', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token(MEMBER)}`, 'content-type': 'application/json' }, payload: '{"jsonrpc":"2.0"}' })
  const answers = [await call(), await call(), await call()]
  t.same(answers.map(r => r.statusCode), [200, 200, 429], 'RATE_LIMIT_USER_PER_MIN holds, not the host\'s 1,000')
  t.equal(answers[0].headers['x-ratelimit-limit'], '2')
  t.equal(answers[2].json().error, 'too_many_requests')
  t.equal(f.upstream.requests.length, 2, 'the refused call reached nothing upstream')

  t.same([(await host.inject('/hello')).statusCode, (await host.inject('/hello')).statusCode], [200, 429], 'and the host\'s own limit still works')
})
