import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { build, startFixtures } from '../helper.ts'

t.test('/healthz answers 200 without auth or any dependency', async t => {
  const f = await startFixtures(t)
  f.authkit.jwksMode = 'down'
  f.workos.mode = 'down'
  const app = await build(t, f.env)
  const res = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
  t.equal(f.upstream.requests.length, 0)
})

t.test('/readyz answers 200 once the JWKS has been fetched', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const res = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ready' })
  t.ok(f.authkit.jwksRequests >= 1, 'the keys were fetched')
})

t.test('/readyz answers 503 JSON while the JWKS cannot be fetched, and 200 once it can', async t => {
  const f = await startFixtures(t)
  f.authkit.jwksMode = 'down'
  const app = await build(t, f.env)
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ method: 'GET', url: '/readyz' })
    t.equal(res.statusCode, 503)
    t.equal(res.json().error, 'not_ready')
    t.type(res.json().error_description, 'string')
    t.notOk(res.body.includes('127.0.0.1'), 'the answer does not name AuthKit\'s address')
  }
  const tried = f.authkit.jwksRequests
  t.ok(tried >= 1, 'the keys were tried')

  f.authkit.jwksMode = 'ok'
  // Past the 2 s backoff after a failed fetch.
  await sleep(2100)
  const res = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 200, 'ready as soon as AuthKit answers')
  t.same(res.json(), { status: 'ready' })
  t.ok(f.authkit.jwksRequests > tried, 'the probe fetched the keys again')
})

t.test('a loop of /readyz probes while AuthKit fails drives no loop of JWKS fetches', async t => {
  const f = await startFixtures(t)
  f.authkit.jwksMode = 'down'
  const app = await build(t, f.env)
  await app.inject({ method: 'GET', url: '/readyz' })
  const tried = f.authkit.jwksRequests
  for (let i = 0; i < 20; i++) t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503)
  t.equal(f.authkit.jwksRequests, tried, 'no fetch within the 2 s backoff')
})

t.test('/readyz answers 503 when the JWKS hangs past JWKS_TIMEOUT_MS', async t => {
  const f = await startFixtures(t)
  f.authkit.jwksMode = 'hang'
  const app = await build(t, { ...f.env, JWKS_TIMEOUT_MS: '300' })
  const res = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 503)
  t.equal(res.json().error, 'not_ready')
})

t.test('/readyz stays 200 after the JWKS goes down once it was fetched', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  f.authkit.jwksMode = 'down'
  const res = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 200, 'the cached keys still verify tokens')
})
