import t from 'tap'
import type { Test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { build, captureLogs, startFixtures, MEMBER, ORG, OTHER_ORG } from '../helper.ts'
import type { Fixtures } from '../helper.ts'

const COLLEAGUE = 'user_01COLLEAGUE0000000000000'
const SECRET = 'a-session-secret-of-at-least-32-characters'
const ACCEPT = 'application/json, text/event-stream'

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'session-test', version: '1.0.0' } }
})
const LIST_TOOLS = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' })

function post (app: FastifyInstance, token: string, body: string, sessionId?: string, org = ORG): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: `/${org}/mcp`,
    headers: {
      authorization: `Bearer ${token}`,
      accept: ACCEPT,
      'content-type': 'application/json',
      'mcp-protocol-version': '2025-06-18',
      ...(sessionId === undefined ? {} : { 'mcp-session-id': sessionId })
    },
    payload: body
  })
}

/** Initializes a session as `sub` in `org`; returns the id the client was given and Ragie's own. */
async function initialize (t: Test, app: FastifyInstance, f: Fixtures, sub = MEMBER, org = ORG): Promise<{ clientId: string, upstreamId: string }> {
  const res = await post(app, f.token(sub), INITIALIZE, undefined, org)
  t.equal(res.statusCode, 200, res.body)
  const clientId = String(res.headers['mcp-session-id'])
  const upstreamId = [...f.upstream.sessions.keys()].at(-1) ?? ''
  t.ok(upstreamId, 'upstream created a session')
  return { clientId, upstreamId }
}

/** 404 JSON, and upstream received nothing more. */
function assertRefused (t: Test, f: Fixtures, res: LightMyRequestResponse, upstreamBefore: number, what: string): void {
  t.equal(res.statusCode, 404, `${what}: ${res.body}`)
  t.match(res.headers['content-type'], /^application\/json/)
  t.same(res.json(), { error: 'not_found', error_description: 'no such session' })
  t.equal(f.upstream.requests.length, upstreamBefore, `${what}: nothing reached upstream`)
}

async function fixtures (t: Test): Promise<Fixtures> {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: COLLEAGUE, organizationId: ORG, status: 'active', role: 'member' })
  f.workos.addMembership({ userId: MEMBER, organizationId: OTHER_ORG, status: 'active', role: 'member' })
  return f
}

t.test('the client gets a bound session id; its owner uses it, and Ragie only ever sees its own id', async t => {
  const f = await fixtures(t)
  const app = await build(t, f.env)
  const { clientId, upstreamId } = await initialize(t, app, f)
  t.not(clientId, upstreamId, 'the initialize answer carries the bound id, not Ragie\'s')
  t.notOk(clientId.includes(upstreamId), 'nor Ragie\'s id in clear')
  const res = await post(app, f.token(), LIST_TOOLS, clientId)
  t.equal(res.statusCode, 200, res.body)
  t.match(res.body, /whoami/)
  t.equal(f.upstream.requests.at(-1)?.headers['mcp-session-id'], upstreamId, 'unwrapped on the way in')
  t.not(res.headers['mcp-session-id'], upstreamId, 'answers never hand out Ragie\'s id')
  t.equal(res.headers['mcp-session-id'] ?? clientId, clientId, 'and what they hand out is the bound id')
})

t.test('a session id presented by anyone but its owner gets 404 and nothing reaches upstream', async t => {
  const f = await fixtures(t)
  const app = await build(t, f.env)
  const { clientId, upstreamId } = await initialize(t, app, f)
  const before = f.upstream.requests.length
  assertRefused(t, f, await post(app, f.token(COLLEAGUE), LIST_TOOLS, clientId), before, 'another member of the organization')
  assertRefused(t, f, await post(app, f.token(MEMBER), LIST_TOOLS, clientId, OTHER_ORG), before, 'the same user in another organization')
  assertRefused(t, f, await post(app, f.token(COLLEAGUE), LIST_TOOLS, upstreamId), before, 'Ragie\'s raw id')
  assertRefused(t, f, await post(app, f.token(), LIST_TOOLS, upstreamId), before, 'Ragie\'s raw id, even from the owner')
  const tampered = clientId.slice(0, -1) + (clientId.endsWith('A') ? 'B' : 'A')
  assertRefused(t, f, await post(app, f.token(), LIST_TOOLS, tampered), before, 'a tampered id')
  assertRefused(t, f, await post(app, f.token(), LIST_TOOLS, 'g2.Zm9yZ2Vk.bm90LWEtbWFj'), before, 'a forged id')
  for (const method of ['GET', 'DELETE'] as const) {
    const res = await app.inject({ method, url: `/${ORG}/mcp`, headers: { authorization: `Bearer ${f.token(COLLEAGUE)}`, accept: ACCEPT, 'mcp-session-id': clientId } })
    assertRefused(t, f, res, before, `${method} by another member`)
  }
  t.ok(f.upstream.sessions.has(upstreamId), 'the session survived every attempt')
  t.equal((await post(app, f.token(), LIST_TOOLS, clientId)).statusCode, 200, 'and still works for its owner')
})

t.test('sessions hold across two instances with the same SESSION_SECRET, and only with it', async t => {
  const f = await fixtures(t)
  const a = await build(t, { ...f.env, SESSION_SECRET: SECRET })
  const b = await build(t, { ...f.env, SESSION_SECRET: SECRET })
  const other = await build(t, { ...f.env, SESSION_SECRET: 'z'.repeat(40) })
  const unset = await build(t, f.env)
  const { clientId, upstreamId } = await initialize(t, a, f)

  const res = await post(b, f.token(), LIST_TOOLS, clientId)
  t.equal(res.statusCode, 200, 'the second instance accepts the first one\'s session')
  t.equal(f.upstream.requests.at(-1)?.headers['mcp-session-id'], upstreamId)

  const before = f.upstream.requests.length
  assertRefused(t, f, await post(b, f.token(COLLEAGUE), LIST_TOOLS, clientId), before, 'another user, on the second instance')
  assertRefused(t, f, await post(other, f.token(), LIST_TOOLS, clientId), before, 'an instance with another secret')
  assertRefused(t, f, await post(unset, f.token(), LIST_TOOLS, clientId), before, 'an instance with a random secret')
})

t.test('rotating SESSION_SECRET: with SESSION_SECRET_PREVIOUS the old ids still work, new ones use the new key', async t => {
  const f = await fixtures(t)
  const NEW = 'n'.repeat(40)
  const before = await build(t, { ...f.env, SESSION_SECRET: SECRET })
  const rotating = await build(t, { ...f.env, SESSION_SECRET: NEW, SESSION_SECRET_PREVIOUS: SECRET })
  const after = await build(t, { ...f.env, SESSION_SECRET: NEW })
  const old = await initialize(t, before, f)

  t.equal((await post(rotating, f.token(), LIST_TOOLS, old.clientId)).statusCode, 200, 'an id bound with the previous key is accepted')
  t.equal(f.upstream.requests.at(-1)?.headers['mcp-session-id'], old.upstreamId)
  const reached = f.upstream.requests.length
  assertRefused(t, f, await post(rotating, f.token(COLLEAGUE), LIST_TOOLS, old.clientId), reached, 'still bound to its user')

  const fresh = await initialize(t, rotating, f)
  t.equal((await post(after, f.token(), LIST_TOOLS, fresh.clientId)).statusCode, 200, 'a new id is bound with the new key alone')
  const later = f.upstream.requests.length
  assertRefused(t, f, await post(before, f.token(), LIST_TOOLS, fresh.clientId), later, 'so an instance still on the old key alone refuses it')
  assertRefused(t, f, await post(after, f.token(), LIST_TOOLS, old.clientId), later, 'and once SESSION_SECRET_PREVIOUS is gone, the old id is refused')
})

t.test('SESSION_SECRET_PREVIOUS without SESSION_SECRET, or too short, stops the start', async t => {
  const f = await fixtures(t)
  await t.rejects(build(t, { ...f.env, SESSION_SECRET_PREVIOUS: SECRET }), /SESSION_SECRET_PREVIOUS needs SESSION_SECRET/)
  await t.rejects(build(t, { ...f.env, SESSION_SECRET: SECRET, SESSION_SECRET_PREVIOUS: 'short' }), /SESSION_SECRET_PREVIOUS must be at least 32 characters/)
})

t.test('a SESSION_SECRET shorter than 32 characters stops the start', async t => {
  const f = await fixtures(t)
  await t.rejects(build(t, { ...f.env, SESSION_SECRET: 'too-short' }), /SESSION_SECRET must be at least 32 characters/)
})

t.test('one warning each at start when SESSION_SECRET or ALLOWED_ORIGINS is unset, none when set', async t => {
  const f = await fixtures(t)
  const unset = captureLogs()
  await build(t, f.env, { logger: { level: 'warn', stream: unset.stream } })
  t.equal(unset.lines.filter(l => l.includes('SESSION_SECRET is not set')).length, 1)
  t.equal(unset.lines.filter(l => l.includes('ALLOWED_ORIGINS is not set')).length, 1)
  const set = captureLogs()
  await build(t, { ...f.env, SESSION_SECRET: SECRET, ALLOWED_ORIGINS: 'https://good.example' }, { logger: { level: 'warn', stream: set.stream } })
  t.same(set.lines, [], 'no warning')
})
