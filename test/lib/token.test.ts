import t from 'tap'
import type { Test } from 'tap'
import { checkClaims, toTokenError } from '../../lib/token.ts'
import type { AudienceRule } from '../../lib/token.ts'
import { GatewayError, gatewayError } from '../../lib/errors.ts'

const BASE = 'https://mcp.gateway.test'
const ORG = 'org_01K8BHJC61A42KN38TB98HZHTQ'
const OTHER = 'org_01OTHERORG000000000000000'
const RESOURCE = `${BASE}/${ORG}/mcp`
const OTHER_RESOURCE = `${BASE}/${OTHER}/mcp`
const CLIENT = 'client_01TESTCLIENT'
const EXTRA = 'https://extra.audience.test'
const NOW = 1_800_000_000
const TOLERANCE = 5
const rule: AudienceRule = { clientId: CLIENT, extraAudiences: [EXTRA], baseUrl: BASE }

function claims (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const payload: Record<string, unknown> = { sub: 'user_1', aud: CLIENT, iat: NOW, exp: NOW + 300, ...overrides }
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k]
  return payload
}

function check (overrides: Record<string, unknown> = {}) {
  return checkClaims(claims(overrides), RESOURCE, rule, NOW, TOLERANCE)
}

/** Asserts `fn` throws a 401 GW_TOKEN_INVALID and returns its description. */
function assertInvalid (t: Test, fn: () => unknown, what = 'the claims'): string {
  try {
    fn()
  } catch (err) {
    t.ok(err instanceof GatewayError, `${what}: a GatewayError`)
    const e = err as GatewayError
    t.equal(e.code, 'GW_TOKEN_INVALID', what)
    t.equal(e.statusCode, 401, what)
    t.equal(e.error, 'invalid_token', what)
    return e.message
  }
  t.fail(`${what}: expected to be refused`)
  return ''
}

t.test('checkClaims accepts each accepted audience and returns the user id', async t => {
  t.same(check({ aud: CLIENT }), { userId: 'user_1' }, 'client id')
  t.same(check({ aud: RESOURCE }), { userId: 'user_1' }, 'this tenant\'s resource URL')
  t.same(check({ aud: EXTRA }), { userId: 'user_1' }, 'a configured extra audience')
  t.same(check({ aud: ['https://unrelated.test', CLIENT] }), { userId: 'user_1' }, 'an array holding the client id')
  t.same(check({ aud: [RESOURCE, CLIENT] }), { userId: 'user_1' }, 'an array of two accepted audiences')
})

t.test('checkClaims refuses a token without an accepted audience', async t => {
  assertInvalid(t, () => check({ aud: undefined }))
  assertInvalid(t, () => check({ aud: [] }))
  assertInvalid(t, () => check({ aud: 'https://unrelated.test' }))
  assertInvalid(t, () => check({ aud: 42 }))
  assertInvalid(t, () => check({ aud: { CLIENT } }))
  assertInvalid(t, () => check({ aud: BASE }), 'the gateway as a whole is not a tenant resource')
  assertInvalid(t, () => check({ aud: `${RESOURCE}/` }), 'a trailing slash is a different resource')
  assertInvalid(t, () => check({ aud: RESOURCE.toUpperCase() }))
})

t.test('checkClaims refuses another tenant\'s resource, even beside an accepted audience', async t => {
  const description = assertInvalid(t, () => check({ aud: OTHER_RESOURCE }))
  t.match(description, /audience/)
  assertInvalid(t, () => check({ aud: [CLIENT, OTHER_RESOURCE] }))
  assertInvalid(t, () => check({ aud: [OTHER_RESOURCE, CLIENT] }))
  assertInvalid(t, () => check({ aud: [RESOURCE, OTHER_RESOURCE] }))
  assertInvalid(t, () => check({ aud: [CLIENT, `${BASE}/${OTHER}/mcp/extra`] }))
})

t.test('checkClaims refuses another tenant\'s resource in any spelling of the gateway\'s origin', async t => {
  const { host, protocol } = new URL(BASE)
  const port = protocol === 'https:' ? 443 : 80
  for (const other of [
    `${protocol}//${host.toUpperCase()}/${OTHER}/mcp`,
    `${protocol.toUpperCase()}//${host}/${OTHER}/mcp`,
    `${protocol}//${host}:${port}/${OTHER}/mcp`,
    `${protocol}//${host}/./${OTHER}/mcp`
  ]) {
    assertInvalid(t, () => check({ aud: [CLIENT, other] }), other)
  }
  t.same(check({ aud: [CLIENT, BASE] }), { userId: 'user_1' }, 'the gateway as a whole names no tenant')
  t.same(check({ aud: [CLIENT, 'https://elsewhere.test/org_x/mcp'] }), { userId: 'user_1' }, 'another origin is not ours to judge')
})

t.test('checkClaims refuses a malformed aud array', async t => {
  assertInvalid(t, () => check({ aud: [CLIENT, 7] }))
  assertInvalid(t, () => check({ aud: [null, CLIENT] }))
})

t.test('checkClaims refuses a missing or unusable sub', async t => {
  t.match(assertInvalid(t, () => check({ sub: undefined })), /sub/)
  assertInvalid(t, () => check({ sub: 42 }))
  assertInvalid(t, () => check({ sub: '' }))
  assertInvalid(t, () => check({ sub: ['user_1'] }))
  assertInvalid(t, () => check({ sub: 'u'.repeat(257) }))
  t.same(check({ sub: 'u'.repeat(256) }), { userId: 'u'.repeat(256) }, 'a 256-character sub is still usable')
})

t.test('checkClaims refuses an iat in the future beyond the tolerance', async t => {
  t.match(assertInvalid(t, () => check({ iat: NOW + TOLERANCE + 1 })), /iat/)
  assertInvalid(t, () => check({ iat: NOW + 120 }))
  assertInvalid(t, () => check({ iat: String(NOW) }), 'a string iat')
  assertInvalid(t, () => check({ iat: null }), 'a null iat')
  t.same(check({ iat: NOW + TOLERANCE }), { userId: 'user_1' }, 'within the tolerance')
  t.same(check({ iat: NOW - 3600 }), { userId: 'user_1' }, 'in the past')
  t.same(check({ iat: undefined }), { userId: 'user_1' }, 'absent')
})

t.test('toTokenError passes the gateway\'s own errors through unchanged', async t => {
  const unavailable = gatewayError('GW_JWKS_UNAVAILABLE', 'the signing keys could not be fetched')
  t.equal(toTokenError(unavailable), unavailable)
  t.equal(toTokenError({ code: 'FAST_JWT_KEY_FETCHING_ERROR', message: 'Cannot fetch key.', originalError: unavailable }), unavailable,
    'also when wrapped by fast-jwt as originalError')
  const unknownKey = gatewayError('GW_TOKEN_INVALID', 'the token is signed with an unknown key')
  t.equal(toTokenError(unknownKey), unknownKey)
})

t.test('toTokenError maps every library error to a 401 invalid_token with a fixed description', async t => {
  const cases: Array<[unknown, string]> = [
    [{ code: 'FAST_JWT_EXPIRED', message: 'The token has expired at 2020-01-01T00:00:00.000Z.' }, 'the token has expired'],
    [{ code: 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED', message: 'Authorization token expired', statusCode: 401 }, 'the token has expired'],
    [{ code: 'FAST_JWT_INACTIVE', message: 'The token will be active at …' }, 'the token is not valid yet'],
    [{ code: 'FAST_JWT_MALFORMED', message: 'The token is malformed.' }, 'the token is malformed'],
    [{ code: 'FAST_JWT_MISSING_REQUIRED_CLAIM', message: 'The exp claim is required.' }, 'the token lacks a required claim'],
    [{ code: 'FST_JWT_BAD_REQUEST', message: 'Format is Authorization: Bearer [token]', statusCode: 400 }, 'the authorization header must be "Bearer <token>"'],
    [{ code: 'FAST_JWT_INVALID_SIGNATURE', message: 'The token signature is invalid.' }, 'the token signature is invalid'],
    [new Error('token expired somewhere'), 'the token has expired'],
    [new Error('anything else'), 'the token is invalid']
  ]
  for (const [input, description] of cases) {
    const e = toTokenError(input)
    t.ok(e instanceof GatewayError)
    t.equal(e.code, 'GW_TOKEN_INVALID', `code for ${JSON.stringify(input)}`)
    t.equal(e.statusCode, 401, 'a 401, even where the library says 400')
    t.equal(e.message, description)
  }
})

t.test('toTokenError never echoes the library message, which can quote the token', async t => {
  const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl'
  const e = toTokenError({ code: 'FST_JWT_AUTHORIZATION_TOKEN_INVALID', message: `Authorization token is invalid: ${token}` })
  t.equal(e.code, 'GW_TOKEN_INVALID')
  t.notMatch(e.message, token)
  t.notMatch(e.message, 'eyJ')
})

t.test('toTokenError survives values that are not errors', async t => {
  for (const input of [null, undefined, 'a string', 42, {}]) {
    const e = toTokenError(input)
    t.equal(e.code, 'GW_TOKEN_INVALID')
    t.equal(e.message, 'the token is invalid')
  }
})
