import t from 'tap'
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
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
