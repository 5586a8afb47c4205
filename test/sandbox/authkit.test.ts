import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { startAuthKit } from '../fixtures/authkit.ts'
import type { AuthKitDouble } from '../fixtures/authkit.ts'
import { ALICE, BOB, DEMO_ORG } from '../../sandbox/demo.ts'
import type { TestContext } from '../helper.ts'
import { claims } from './helper.ts'

const REDIRECT = 'http://127.0.0.1:9/callback'
const RESOURCE = 'https://mcp.gateway.test/org_01ACME/mcp'

async function start (t: TestContext, signInAs?: string): Promise<AuthKitDouble> {
  const authkit = await startAuthKit({ users: [ALICE, BOB], signInAs })
  t.teardown(() => authkit.close())
  return authkit
}

async function register (authkit: AuthKitDouble, body: Record<string, unknown> = { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }): Promise<Response> {
  return fetch(`${authkit.issuer}/oauth2/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
}

function pkce (): { verifier: string, challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

async function authorize (authkit: AuthKitDouble, params: Record<string, string>): Promise<Response> {
  const url = new URL(`${authkit.issuer}/oauth2/authorize`)
  url.search = new URLSearchParams(params).toString()
  return fetch(url, { redirect: 'manual' })
}

async function token (authkit: AuthKitDouble, params: Record<string, string>): Promise<{ status: number, body: Record<string, string> }> {
  const res = await fetch(`${authkit.issuer}/oauth2/token`, { method: 'POST', body: new URLSearchParams(params) })
  return { status: res.status, body: await res.json() as Record<string, string> }
}

/** Registers a public client and authorizes it; returns what the token request needs. */
async function codeFor (authkit: AuthKitDouble, extra: Record<string, string> = {}): Promise<{ clientId: string, code: string, verifier: string }> {
  const { client_id: clientId } = await (await register(authkit)).json() as { client_id: string }
  const { verifier, challenge } = pkce()
  const res = await authorize(authkit, { response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', ...extra })
  const code = new URL(res.headers.get('location') ?? '').searchParams.get('code') ?? ''
  return { clientId, code, verifier }
}

t.test('metadata advertises registration, S256 only, and client id metadata documents', async t => {
  const authkit = await start(t)
  const doc = await (await fetch(`${authkit.issuer}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>
  t.match(doc, {
    issuer: authkit.issuer,
    authorization_endpoint: `${authkit.issuer}/oauth2/authorize`,
    token_endpoint: `${authkit.issuer}/oauth2/token`,
    registration_endpoint: `${authkit.issuer}/oauth2/register`,
    code_challenge_methods_supported: ['S256'],
    client_id_metadata_document_supported: true,
    grant_types_supported: ['authorization_code', 'refresh_token']
  })
  const preflight = await fetch(`${authkit.issuer}/oauth2/token`, { method: 'OPTIONS', headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST' } })
  t.equal(preflight.status, 204)
  t.equal(preflight.headers.get('access-control-allow-origin'), '*', 'browser clients such as the Inspector may call it')
})

t.test('registration needs redirect URIs, and a confidential client gets a secret it must use', async t => {
  const authkit = await start(t)
  t.equal((await register(authkit, { client_name: 'no redirects' })).status, 400)
  t.equal((await register(authkit, { redirect_uris: ['not a url'] })).status, 400)
  const res = await register(authkit, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_post' })
  t.equal(res.status, 201)
  const client = await res.json() as { client_id: string, client_secret: string }
  t.ok(client.client_secret)
  const { verifier, challenge } = pkce()
  const redirect = await authorize(authkit, { response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256' })
  const code = new URL(redirect.headers.get('location') ?? '').searchParams.get('code') ?? ''
  const base = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: client.client_id }
  t.equal((await token(authkit, { ...base, client_secret: 'wrong' })).status, 401, 'a wrong secret is refused')
  t.equal((await token(authkit, { ...base, client_secret: client.client_secret })).status, 200)
})

t.test('authorize refuses what it must', async t => {
  const authkit = await start(t)
  const { client_id: clientId } = await (await register(authkit)).json() as { client_id: string }
  const { challenge } = pkce()
  const good = { response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', state: 's1' }

  const unknown = await authorize(authkit, { ...good, client_id: 'client_nope' })
  t.equal(unknown.status, 400, 'an unknown client gets an error page, no redirect')
  const elsewhere = await authorize(authkit, { ...good, redirect_uri: 'https://evil.example/cb' })
  t.equal(elsewhere.status, 400, 'an unregistered redirect_uri is never redirected to')
  t.equal(elsewhere.headers.get('location'), null)

  for (const [name, params, error] of [
    ['no PKCE', { code_challenge: '' }, 'invalid_request'],
    ['PKCE plain', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['response_type token', { response_type: 'token' }, 'unsupported_response_type'],
    ['a resource that is not an absolute URL', { resource: '/org/mcp' }, 'invalid_target']
  ] as const) {
    const res = await authorize(authkit, { ...good, ...params })
    t.equal(res.status, 302, `${name}: the error goes back to the client`)
    const back = new URL(res.headers.get('location') ?? '')
    t.equal(back.searchParams.get('error'), error, name)
    t.equal(back.searchParams.get('state'), 's1')
    t.notOk(back.searchParams.has('code'))
  }
})

t.test('the token endpoint checks the PKCE verifier, the redirect URI and single use', async t => {
  const authkit = await start(t)
  const { clientId, code, verifier } = await codeFor(authkit, { resource: RESOURCE })
  const base = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId }
  const wrong = await token(authkit, { ...base, code_verifier: pkce().verifier })
  t.same([wrong.status, wrong.body.error], [400, 'invalid_grant'], 'a wrong verifier is refused')
  const again = await codeFor(authkit, { resource: RESOURCE })
  const ok = { grant_type: 'authorization_code', code: again.code, code_verifier: again.verifier, redirect_uri: REDIRECT, client_id: again.clientId }
  t.equal((await token(authkit, { ...ok, redirect_uri: 'http://127.0.0.1:9/other' })).status, 400, 'another redirect_uri is refused (and burns the code)')
  const third = await codeFor(authkit, { resource: RESOURCE })
  const exchange = { grant_type: 'authorization_code', code: third.code, code_verifier: third.verifier, redirect_uri: REDIRECT, client_id: third.clientId }
  t.equal((await token(authkit, { ...exchange, resource: 'https://elsewhere.test/mcp' })).status, 400, 'another resource is refused')
  const fourth = await codeFor(authkit, { resource: RESOURCE })
  const good = { grant_type: 'authorization_code', code: fourth.code, code_verifier: fourth.verifier, redirect_uri: REDIRECT, client_id: fourth.clientId }
  const issued = await token(authkit, good)
  t.equal(issued.status, 200)
  t.match(issued.body, { token_type: 'Bearer', expires_in: 300, access_token: String, refresh_token: String })
  t.equal(claims(issued.body.access_token).aud, RESOURCE)
  t.equal((await token(authkit, good)).body.error, 'invalid_grant', 'a code works once')
  t.equal((await token(authkit, { ...base, code_verifier: verifier })).body.error, 'invalid_grant', 'the first code was burnt by the failed attempt')
})

t.test('without a resource the audience is the client id; the claims are AuthKit-shaped', async t => {
  const authkit = await start(t)
  const { clientId, code, verifier } = await codeFor(authkit)
  const issued = await token(authkit, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: clientId })
  const c = claims(issued.body.access_token)
  t.equal(c.aud, clientId)
  t.match(c, { iss: authkit.issuer, sub: ALICE.id, org_id: DEMO_ORG.id, sid: /^session_/, jti: String, iat: Number, exp: Number })
  t.equal((c.exp as number) - (c.iat as number), 300)
})

t.test('the picker: an HTML page listing the users, then the one chosen is signed in', async t => {
  const authkit = await start(t, 'pick')
  const { client_id: clientId } = await (await register(authkit)).json() as { client_id: string }
  const { verifier, challenge } = pkce()
  const params = { response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', state: '<x>' }
  const page = await authorize(authkit, params)
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /text\/html/)
  const html = await page.text()
  t.match(html, ALICE.email)
  t.match(html, BOB.email)
  t.match(html, 'value="&#60;x&#62;"', 'request values are escaped')
  const chosen = await authorize(authkit, { ...params, user: BOB.id })
  t.equal(chosen.status, 302)
  const code = new URL(chosen.headers.get('location') ?? '').searchParams.get('code') ?? ''
  const issued = await token(authkit, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: clientId })
  t.equal(claims(issued.body.access_token).sub, BOB.id)
  t.notOk('org_id' in claims(issued.body.access_token), 'Bob has no organization')
})
