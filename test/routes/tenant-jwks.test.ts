import { randomUUID } from 'node:crypto'
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { MEMBER, ORG, build, startFixtures } from '../helper.ts'
import type { Fixtures } from '../helper.ts'

const URL_PATH = `/${ORG}/mcp/raw/echo`

function call (app: FastifyInstance, token: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: URL_PATH, headers: { authorization: `Bearer ${token}` } })
}

/** Waits for the JWKS fetch the app starts when it is ready: readiness joins it. */
async function warmedUp (t: Test, app: FastifyInstance): Promise<void> {
  t.equal((await app.inject('/readyz')).statusCode, 200, 'the keys were fetched')
}

/** 50 tokens with made-up kids, in waves of 10: one shared fetch per wave unless the cooldown holds. */
async function flood (app: FastifyInstance, f: Fixtures): Promise<LightMyRequestResponse[]> {
  const answers: LightMyRequestResponse[] = []
  for (let wave = 0; wave < 5; wave++) {
    answers.push(...await Promise.all(Array.from({ length: 10 }, () =>
      call(app, f.token(MEMBER, {}, { kid: `key_${randomUUID()}` })))))
  }
  return answers
}

/** 503 with Retry-After, not a 401 that would send the client to sign in again; nothing upstream. */
function assertUnavailable (t: Test, f: Fixtures, res: LightMyRequestResponse): void {
  t.equal(res.statusCode, 503, res.body)
  t.equal(res.json().error, 'temporarily_unavailable')
  t.match(res.headers['retry-after'], /^[1-9][0-9]*$/)
  t.equal(res.headers['www-authenticate'], undefined, 'no re-authentication challenge')
  t.notOk(res.body.includes(f.authkit.issuer), 'the body does not name AuthKit\'s host')
  t.equal(f.upstream.requests.length, 0, 'nothing reached upstream')
}

t.test('JWKS unreachable from the start: 503 with Retry-After, and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  f.authkit.jwksMode = 'down'
  const app = await build(t, f.env)
  assertUnavailable(t, f, await call(app, f.token()))
  assertUnavailable(t, f, await call(app, f.token()))
  t.equal((await app.inject('/readyz')).statusCode, 503, 'not ready either')
})

t.test('once the JWKS is back, the token that got 503 is accepted', async t => {
  const f = await startFixtures(t)
  f.authkit.jwksMode = 'down'
  const app = await build(t, f.env)
  const token = f.token()
  assertUnavailable(t, f, await call(app, token))
  f.authkit.jwksMode = 'ok'
  // Past the 2 s backoff after the failed fetch (readiness keeps it too: anyone may probe).
  await sleep(2100)
  await warmedUp(t, app)
  const res = await call(app, token)
  t.equal(res.statusCode, 200, res.body)
  t.equal(f.upstream.requests.length, 1)
})

t.test('JWKS that never answers: 503 once the fetch times out, and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  f.authkit.jwksMode = 'hang'
  const app = await build(t, { ...f.env, JWKS_TIMEOUT_MS: '300' })
  assertUnavailable(t, f, await call(app, f.token()))
})

t.test('JWKS down after a good fetch: the cached key keeps working', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  t.equal((await call(app, f.token())).statusCode, 200)
  const fetched = f.authkit.jwksRequests
  f.authkit.jwksMode = 'down'
  // A new token each time: it has to be checked against the key, not found in a verification cache.
  for (let i = 0; i < 3; i++) {
    const res = await call(app, f.token())
    t.equal(res.statusCode, 200, res.body)
  }
  t.equal(f.authkit.jwksRequests, fetched, 'the cached key needed no fetch')
  t.equal(f.upstream.requests.length, 4)
})

t.test('key rotation: a token signed with a new key is accepted after exactly one JWKS fetch', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, JWKS_REFETCH_COOLDOWN_SECONDS: '0' })
  await warmedUp(t, app)
  const old = f.authkit.key
  t.equal((await call(app, f.token())).statusCode, 200, 'the first key works')
  const fetched = f.authkit.jwksRequests

  const next = f.authkit.addKey()
  const res = await call(app, f.token())
  t.equal(res.statusCode, 200, res.body)
  t.equal(f.authkit.jwksRequests, fetched + 1, 'one fetch found the new key')
  t.equal(f.upstream.requests.at(-1)?.partition, ORG.toLowerCase())

  t.equal((await call(app, f.token(MEMBER, {}, { key: next }))).statusCode, 200)
  t.equal((await call(app, f.token(MEMBER, {}, { key: old }))).statusCode, 200, 'the old key, still published, keeps working')
  t.equal(f.authkit.jwksRequests, fetched + 1, 'both keys are cached now')
})

t.test('unknown-kid flood: all 401, and at most one JWKS fetch after the warm-up', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  await warmedUp(t, app)
  t.equal((await call(app, f.token())).statusCode, 200)
  const fetched = f.authkit.jwksRequests
  t.equal(fetched, 1, 'the warm-up fetch only')

  for (const res of await flood(app, f)) {
    t.equal(res.statusCode, 401)
    t.equal(res.json().error, 'invalid_token')
  }
  t.ok(f.authkit.jwksRequests - fetched <= 1, `JWKS fetched ${f.authkit.jwksRequests - fetched} more times`)
  t.equal(f.upstream.requests.length, 1, 'only the good request reached upstream')
  t.equal((await call(app, f.token())).statusCode, 200, 'the real key still works')
})

t.test('unknown-kid flood while the JWKS is down: all refused, JWKS not hammered', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  await warmedUp(t, app)
  f.authkit.jwksMode = 'down'
  const fetched = f.authkit.jwksRequests
  for (const res of await flood(app, f)) t.ok(res.statusCode === 401 || res.statusCode === 503, `refused with ${res.statusCode}`)
  t.ok(f.authkit.jwksRequests - fetched <= 1, `JWKS fetched ${f.authkit.jwksRequests - fetched} more times`)
  t.equal(f.upstream.requests.length, 0)
  t.equal((await call(app, f.token())).statusCode, 200, 'the cached key still works')
})
