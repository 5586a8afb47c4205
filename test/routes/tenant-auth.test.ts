import t from 'tap'
import type { Test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { newSigningKey } from '../fixtures/authkit.ts'
import { BASE_URL, CLIENT_ID, MEMBER, ORG, OTHER_ORG, build, captureLogs, startFixtures } from '../helper.ts'
import type { Fixtures } from '../helper.ts'

const URL_PATH = `/${ORG}/mcp/raw/echo`
const RESOURCE = `${BASE_URL}/${ORG}/mcp`
const OTHER_RESOURCE = `${BASE_URL}/${OTHER_ORG}/mcp`
const METADATA = `resource_metadata="${BASE_URL}/.well-known/oauth-protected-resource/${ORG}/mcp"`
const EXTRA_AUDIENCE = 'https://extra.audience.test/api'
// RFC 6750 §3: auth-params whose quoted values hold no '"' or '\\'.
const CHALLENGE = /^Bearer [a-z_]+="[^"\\]*"(, [a-z_]+="[^"\\]*")*$/

function now (): number {
  return Math.floor(Date.now() / 1000)
}

function call (app: FastifyInstance, authorization?: string, url = URL_PATH): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url, headers: authorization === undefined ? {} : { authorization } })
}

/** The token and its parts: none of them may come back in an answer. */
function assertNoTokenEcho (t: Test, res: LightMyRequestResponse, token: string): void {
  const answer = `${res.body}\n${JSON.stringify(res.headers)}`
  for (const part of [token, ...token.split('.')].filter(p => p.length >= 8)) {
    t.notOk(answer.includes(part), 'the answer does not echo the token')
  }
}

/** 401 invalid_token, the tenant's metadata URL, and nothing sent upstream. */
function assertInvalidToken (t: Test, f: Fixtures, res: LightMyRequestResponse, token?: string): void {
  t.equal(res.statusCode, 401, res.body)
  t.match(res.headers['content-type'], /^application\/json/)
  const body = res.json()
  t.equal(body.error, 'invalid_token')
  t.type(body.error_description, 'string')
  const www = String(res.headers['www-authenticate'])
  t.match(www, CHALLENGE, 'a well-formed challenge: quoted values hold no quote or backslash')
  t.ok(www.includes('error="invalid_token"'), www)
  t.ok(www.includes('error_description="'), www)
  t.ok(www.includes(METADATA), www)
  if (token !== undefined) assertNoTokenEcho(t, res, token)
  t.equal(f.upstream.requests.length, 0, 'nothing reached upstream')
}

/** 401 without a token error: the client has to sign in, and finds out where from the header. */
function assertTokenMissing (t: Test, f: Fixtures, res: LightMyRequestResponse): void {
  t.equal(res.statusCode, 401, res.body)
  t.not(res.json().error, 'invalid_token')
  const www = String(res.headers['www-authenticate'])
  t.equal(www, `Bearer ${METADATA}`)
  t.equal(f.upstream.requests.length, 0, 'nothing reached upstream')
}

t.test('refused tokens', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  // The keys are fetched once at start (readiness waits for it); these cases are about the token.
  t.equal((await app.inject('/readyz')).statusCode, 200)

  async function refuses (t: Test, token: string): Promise<void> {
    assertInvalidToken(t, f, await call(app, `Bearer ${token}`), token)
  }

  t.test('missing Authorization header gets 401 with resource_metadata and nothing reaches upstream', async t => {
    assertTokenMissing(t, f, await call(app))
  })

  t.test('a Basic Authorization header counts as no token', async t => {
    assertTokenMissing(t, f, await call(app, `Basic ${Buffer.from(`${MEMBER}:pw`).toString('base64')}`))
  })

  t.test('a bare "Bearer" without a token counts as no token', async t => {
    assertTokenMissing(t, f, await call(app, 'Bearer'))
  })

  t.test('a token in the query string is not accepted and nothing reaches upstream', async t => {
    const token = f.token()
    const res = await call(app, undefined, `${URL_PATH}?access_token=${token}`)
    assertTokenMissing(t, f, res)
    assertNoTokenEcho(t, res, token)
  })

  t.test('a malformed token gets 401 invalid_token and nothing reaches upstream', async t => {
    await refuses(t, 'abc.def')
    await refuses(t, 'not-a-jwt')
    await refuses(t, 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln')
  })

  t.test('a header with more than one token gets 401 invalid_token', async t => {
    const token = f.token()
    assertInvalidToken(t, f, await call(app, `Bearer ${token} ${token}`), token)
  })

  t.test('a bad signature (another key, same kid) gets 401 and nothing reaches upstream', async t => {
    await refuses(t, f.token(MEMBER, {}, { key: newSigningKey(), kid: f.authkit.key.kid }))
  })

  t.test('a tampered payload gets 401 and nothing reaches upstream', async t => {
    const [header, , signature] = f.token().split('.')
    const forged = Buffer.from(JSON.stringify({ iss: f.authkit.issuer, sub: MEMBER, aud: CLIENT_ID, exp: now() + 300 })).toString('base64url')
    await refuses(t, `${header}.${forged}.${signature}`)
  })

  t.test('an unsigned token (alg none) gets 401 and nothing reaches upstream', async t => {
    await refuses(t, f.token(MEMBER, {}, { unsigned: true }))
  })

  t.test('HS256 signed with the public key as HMAC secret gets 401 and nothing reaches upstream', async t => {
    const pem = f.authkit.key.publicKey.export({ type: 'spki', format: 'pem' })
    await refuses(t, f.token(MEMBER, {}, { hmacSecret: pem }))
    await refuses(t, f.token(MEMBER, {}, { hmacSecret: pem.toString() }))
  })

  t.test('another RSA algorithm in the header gets 401', async t => {
    await refuses(t, f.token(MEMBER, {}, { alg: 'RS512' }))
    await refuses(t, f.token(MEMBER, {}, { alg: 'PS256' }))
  })

  t.test('an expired token gets 401 and nothing reaches upstream', async t => {
    const res = await call(app, `Bearer ${f.token(MEMBER, { iat: now() - 600, exp: now() - 120 })}`)
    assertInvalidToken(t, f, res)
    t.match(res.json().error_description, /expired/)
  })

  t.test('a token with nbf in the future gets 401 and nothing reaches upstream', async t => {
    await refuses(t, f.token(MEMBER, { nbf: now() + 120 }))
  })

  t.test('a token with iat in the future gets 401 and nothing reaches upstream', async t => {
    await refuses(t, f.token(MEMBER, { iat: now() + 120 }))
  })

  t.test('a token without exp gets 401 and nothing reaches upstream', async t => {
    await refuses(t, f.token(MEMBER, { exp: undefined }))
  })

  t.test('a token whose exp is not a number gets 401', async t => {
    await refuses(t, f.token(MEMBER, { exp: String(now() + 300) }))
  })

  t.test('a token from another issuer gets 401 and nothing reaches upstream', async t => {
    await refuses(t, f.token(MEMBER, { iss: 'https://evil.authkit.app' }))
    await refuses(t, f.token(MEMBER, { iss: `${f.authkit.issuer}/` }))
    await refuses(t, f.token(MEMBER, { iss: [f.authkit.issuer] }))
  })

  t.test('a token without iss gets 401 and nothing reaches upstream', async t => {
    await refuses(t, f.token(MEMBER, { iss: undefined }))
  })

  t.test('a token for another audience gets 401 and nothing reaches upstream', async t => {
    await refuses(t, f.token(MEMBER, { aud: 'client_01SOMEONEELSE' }))
    await refuses(t, f.token(MEMBER, { aud: undefined }))
    await refuses(t, f.token(MEMBER, { aud: BASE_URL }))
  })

  t.test('a token for another tenant\'s resource gets 401 and nothing reaches upstream', async t => {
    await refuses(t, f.token(MEMBER, { aud: OTHER_RESOURCE }))
  })

  t.test('another tenant\'s resource next to the client id in aud still gets 401', async t => {
    await refuses(t, f.token(MEMBER, { aud: [CLIENT_ID, OTHER_RESOURCE] }))
    await refuses(t, f.token(MEMBER, { aud: [OTHER_RESOURCE, CLIENT_ID] }))
    await refuses(t, f.token(MEMBER, { aud: [RESOURCE, OTHER_RESOURCE] }))
  })

  t.test('a token without sub gets 401 and nothing reaches upstream', async t => {
    await refuses(t, f.token(MEMBER, { sub: undefined }))
  })

  t.test('a token whose sub is a number gets 401 and nothing reaches upstream', async t => {
    await refuses(t, f.token(MEMBER, { sub: 12345 }))
  })

  t.test('a token signed with an unknown kid gets 401 and nothing reaches upstream', async t => {
    await refuses(t, f.token(MEMBER, {}, { key: newSigningKey() }))
  })

  t.test('a token without kid gets 401 and nothing reaches upstream', async t => {
    await refuses(t, f.token(MEMBER, {}, { header: { kid: undefined } }))
  })
})

t.test('accepted tokens', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, EXTRA_AUDIENCES: `https://other.extra.test, ${EXTRA_AUDIENCE}` })

  async function accepts (t: Test, authorization: string): Promise<void> {
    const before = f.upstream.requests.length
    const res = await call(app, authorization)
    t.equal(res.statusCode, 200, res.body)
    t.equal(f.upstream.requests.length, before + 1, 'the request reached upstream')
    t.equal(f.upstream.requests.at(-1)?.partition, ORG.toLowerCase())
  }

  t.test('aud = the client id is accepted', async t => {
    await accepts(t, `Bearer ${f.token(MEMBER, { aud: CLIENT_ID })}`)
  })

  t.test('aud = this tenant\'s resource URL is accepted', async t => {
    await accepts(t, `Bearer ${f.token(MEMBER, { aud: RESOURCE })}`)
    await accepts(t, `Bearer ${f.token(MEMBER, { aud: ['https://unrelated.test', RESOURCE] })}`)
  })

  t.test('aud = a configured extra audience is accepted', async t => {
    await accepts(t, `Bearer ${f.token(MEMBER, { aud: EXTRA_AUDIENCE })}`)
  })

  t.test('the scheme is case-insensitive', async t => {
    await accepts(t, `bearer ${f.token()}`)
    await accepts(t, `BEARER ${f.token()}`)
  })

  t.test('a token just past exp, within the clock tolerance, is accepted', async t => {
    // The default tolerance is 5 s; a token 1 s past exp is inside it however slow the run.
    await accepts(t, `Bearer ${f.token(MEMBER, { iat: now() - 300, exp: now() - 1 })}`)
  })

  t.test('the client\'s token is not what reaches upstream', async t => {
    const token = f.token()
    await accepts(t, `Bearer ${token}`)
    const seen = f.upstream.requests.at(-1)
    t.not(seen?.headers.authorization, `Bearer ${token}`)
    t.notOk(JSON.stringify(seen?.headers).includes(token.split('.')[2]))
  })
})

t.test('a token verified (and cached) for one tenant still opens no other', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const token = f.token(MEMBER, { aud: RESOURCE })
  const first = await call(app, `Bearer ${token}`)
  t.equal(first.statusCode, 200, first.body)
  t.equal(f.upstream.requests.length, 1)
  // The same header again, now from the verified-token cache: the audience is checked each time.
  const other = await call(app, `Bearer ${token}`, `/${OTHER_ORG}/mcp/raw/echo`)
  t.equal(other.statusCode, 401, other.body)
  t.equal(other.json().error, 'invalid_token')
  t.match(String(other.headers['www-authenticate']), `oauth-protected-resource/${OTHER_ORG}/mcp`)
  assertNoTokenEcho(t, other, token)
  t.equal(f.upstream.requests.length, 1, 'nothing more reached upstream')
  const again = await call(app, `Bearer ${token}`)
  t.equal(again.statusCode, 200, 'and the first tenant still answers from the cache')
  t.equal(f.upstream.requests.length, 2)
})

t.test('an extra audience is refused when it is not configured', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const token = f.token(MEMBER, { aud: EXTRA_AUDIENCE })
  assertInvalidToken(t, f, await call(app, `Bearer ${token}`), token)
})

t.test('refused and accepted tokens never appear in the logs', async t => {
  const f = await startFixtures(t)
  const logs = captureLogs()
  const app = await build(t, { ...f.env, LOG_LEVEL: 'debug' }, { logger: { level: 'debug', stream: logs.stream } })
  const tokens = [f.token(), f.token(MEMBER, { aud: OTHER_RESOURCE }), f.token(MEMBER, {}, { unsigned: true })]
  t.equal((await call(app, `Bearer ${tokens[0]}`)).statusCode, 200)
  t.equal((await call(app, `Bearer ${tokens[1]}`)).statusCode, 401)
  t.equal((await call(app, `bearer ${tokens[2]}`)).statusCode, 401)
  t.equal((await call(app, undefined, `${URL_PATH}?access_token=${tokens[0]}`)).statusCode, 401)
  t.ok(logs.lines.some(line => line.includes('request completed')), 'the requests were logged')
  for (const token of tokens) {
    for (const part of [token, ...token.split('.')].filter(p => p.length >= 8)) {
      t.notOk(logs.lines.some(line => line.includes(part)), 'no log line holds the token')
    }
  }
})
