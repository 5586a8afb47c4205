import t from 'tap'
import type { Progress } from '@modelcontextprotocol/sdk/types.js'
import { InMemoryOAuthProvider, connectWithOAuth } from '../../examples/oauth-client.ts'
import { ALICE, BOB, DEMO_ORG } from '../../sandbox/demo.ts'
import { claims, recordingFetch, startTestSandbox, texts } from './helper.ts'
import type { Exchange } from './helper.ts'

/** Index of the first exchange after `from` matching; -1 when there is none. */
function step (log: Exchange[], from: number, test: (e: Exchange) => boolean): number {
  const i = log.slice(from + 1).findIndex(test)
  return i === -1 ? -1 : from + 1 + i
}

t.test('the official SDK client goes from no token to tools/call through the whole OAuth flow', async t => {
  const sandbox = await startTestSandbox(t)
  const { fetch, log } = recordingFetch()
  const provider = new InMemoryOAuthProvider({ fetch })
  const mcpUrl = new URL(sandbox.mcpUrl)
  const client = await connectWithOAuth(mcpUrl, provider, fetch)
  t.teardown(() => client.close())
  const issuer = sandbox.authkit.issuer

  await t.test('each step, in order', async t => {
    const challenge = step(log, -1, e => e.method === 'POST' && e.url.href === sandbox.mcpUrl)
    t.equal(log[challenge]?.status, 401, 'the first request, without a token, gets 401')
    const prm = step(log, challenge, e => e.url.href === `${sandbox.baseUrl}/.well-known/oauth-protected-resource/${DEMO_ORG.id}/mcp`)
    t.equal(log[prm]?.status, 200, 'resource_metadata led to the per-tenant protected resource metadata')
    const asMeta = step(log, prm, e => e.url.href === `${issuer}/.well-known/oauth-authorization-server`)
    t.equal(log[asMeta]?.status, 200, 'the authorization server named there was discovered')
    const register = step(log, asMeta, e => e.method === 'POST' && e.url.href === `${issuer}/oauth2/register`)
    t.equal(log[register]?.status, 201, 'the client registered itself (DCR)')
    const authorize = step(log, register, e => e.url.pathname === '/oauth2/authorize')
    t.equal(log[authorize]?.status, 302, 'the authorization request was answered with a redirect back')
    const params = log[authorize].url.searchParams
    t.equal(params.get('code_challenge_method'), 'S256')
    t.match(params.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/)
    t.equal(params.get('resource'), sandbox.mcpUrl, 'resource = the tenant URL')
    const token = step(log, authorize, e => e.method === 'POST' && e.url.href === `${issuer}/oauth2/token`)
    t.equal(log[token]?.status, 200, 'the code was exchanged')
    const form = new URLSearchParams(log[token].body)
    t.equal(form.get('grant_type'), 'authorization_code')
    t.ok(form.get('code_verifier'), 'with the PKCE verifier')
    const retried = step(log, token, e => e.method === 'POST' && e.url.href === sandbox.mcpUrl)
    t.equal(log[retried]?.status, 200, 'then initialize went through the gateway')
  })

  await t.test('the access token is AuthKit-shaped, for the tenant URL', async t => {
    const accessToken = provider.tokens()?.access_token ?? ''
    const header = JSON.parse(Buffer.from(accessToken.split('.')[0], 'base64url').toString()) as Record<string, unknown>
    t.equal(header.alg, 'RS256')
    t.equal(header.kid, sandbox.authkit.key.kid)
    const c = claims(accessToken)
    t.equal(c.aud, sandbox.mcpUrl, 'aud is the tenant URL')
    t.equal(c.iss, issuer)
    t.equal(c.sub, ALICE.id)
    t.equal(c.org_id, DEMO_ORG.id)
    t.match(c, { sid: String, jti: String, iat: Number, exp: Number })
    t.ok(provider.tokens()?.refresh_token, 'a refresh token came with it')
  })

  await t.test('tools/list and tools/call, with progress, in the mapped partition', async t => {
    const { tools } = await client.listTools()
    t.ok(tools.some(tool => tool.name === 'retrieve'))
    const progress: Progress[] = []
    const result = await client.callTool({ name: 'retrieve', arguments: { query: 'vacation days' } }, undefined, { onprogress: p => progress.push(p) })
    t.same(progress.map(p => p.progress), [1, 2, 3])
    t.equal(JSON.parse(texts(result)[0]).document_id, 'doc_vacation')
    const whoami = await client.callTool({ name: 'whoami', arguments: {} })
    t.same(JSON.parse(texts(whoami)[0]), { partition: DEMO_ORG.partition })
    const token = provider.tokens()?.access_token ?? ''
    t.ok(token.length > 0, 'the client holds a token')
    t.ok(sandbox.upstream.requests.length >= 3, 'initialize and both tool calls reached Ragie')
    for (const r of sandbox.upstream.requests) {
      t.equal(r.headers.authorization, 'Bearer sandbox_ragie_key', 'Ragie got the Ragie key')
      t.notOk(JSON.stringify(r.headers).includes(token), 'and never the user token')
    }
  })
})

t.test('a non-member completes the login, then gets 403 and nothing reaches upstream', async t => {
  const sandbox = await startTestSandbox(t, { user: 'bob' })
  const { fetch, log } = recordingFetch()
  const provider = new InMemoryOAuthProvider({ fetch })
  await t.rejects(connectWithOAuth(new URL(sandbox.mcpUrl), provider, fetch), { code: 403, message: /not an active member/ })
  const c = claims(provider.tokens()?.access_token ?? '')
  t.equal(c.sub, BOB.id, 'Bob signed in and got a token')
  t.equal(c.aud, sandbox.mcpUrl)
  const tokenCalls = log.filter(e => e.url.pathname === '/oauth2/token')
  t.equal(tokenCalls.length, 1, 'the 403 did not send the client round the login again')
  t.same(log.filter(e => e.url.href === sandbox.mcpUrl).map(e => e.status), [401, 403])
  t.equal(sandbox.upstream.requests.length, 0, 'nothing reached the demo Ragie')
  t.ok(sandbox.workos.calls.some(call => call.userId === BOB.id && call.organizationId === DEMO_ORG.id), 'the membership was looked up')
})

t.test('an expired access token is refreshed through the stand-in, and the new one is accepted', async t => {
  const sandbox = await startTestSandbox(t)
  const { fetch, log } = recordingFetch()
  const provider = new InMemoryOAuthProvider({ fetch })
  const first = await connectWithOAuth(new URL(sandbox.mcpUrl), provider, fetch)
  await first.close()
  const before = provider.tokens()
  if (before?.refresh_token === undefined) throw new Error('no refresh token')
  const old = claims(before.access_token)

  // The stored token expires: same claims, exp in the past, signed by AuthKit's key.
  const now = Math.floor(Date.now() / 1000)
  provider.saveTokens({ ...before, access_token: sandbox.authkit.sign({ ...old, iat: now - 600, exp: now - 300 }) })
  const client = await connectWithOAuth(new URL(sandbox.mcpUrl), provider, fetch)
  t.teardown(() => client.close())

  const refreshes = log.filter(e => e.url.pathname === '/oauth2/token' && new URLSearchParams(e.body).get('grant_type') === 'refresh_token')
  t.equal(refreshes.length, 1, 'the 401 made the client refresh')
  t.equal(refreshes[0].status, 200)
  t.equal(new URLSearchParams(refreshes[0].body).get('resource'), sandbox.mcpUrl, 'for the same resource')
  t.equal(log.filter(e => e.url.pathname === '/oauth2/authorize').length, 1, 'without a second authorization')
  const after = provider.tokens()
  const fresh = claims(after?.access_token ?? '')
  t.not(after?.access_token, before.access_token)
  t.equal(fresh.aud, sandbox.mcpUrl)
  t.equal(fresh.sid, old.sid, 'the same AuthKit session')
  t.not(after?.refresh_token, before.refresh_token, 'the refresh token rotated')
  const result = await client.callTool({ name: 'whoami', arguments: {} })
  t.same(JSON.parse(texts(result)[0]), { partition: DEMO_ORG.partition }, 'the new token works through the gateway')

  const reuse = await globalThis.fetch(`${sandbox.authkit.issuer}/oauth2/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: before.refresh_token, client_id: String(provider.clientInformation()?.client_id) })
  })
  t.equal(reuse.status, 400, 'the old refresh token no longer works')
  t.equal((await reuse.json() as { error: string }).error, 'invalid_grant')
})
