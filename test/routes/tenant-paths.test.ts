import t from 'tap'
import type { Test } from 'tap'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { build, captureLogs, startFixtures, ORG } from '../helper.ts'
import type { Fixtures, TestContext } from '../helper.ts'
import { rawRequest } from '../fixtures/raw-http.ts'

const PARTITION = ORG.toLowerCase()

/** A gateway listening on 127.0.0.1, so request targets reach it byte for byte (inject normalises them). */
async function listening (t: TestContext, env: Record<string, string>): Promise<{ app: FastifyInstance, port: number }> {
  const app = await build(t, env)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, port: (app.server.address() as AddressInfo).port }
}

// Request targets that must never be proxied: traversal, encoded separators, control characters and
// double encoding, in the org and in the rest.
const HOSTILE = [
  `/${ORG}/mcp/..%2f..%2fadmin`,
  `/${ORG}/mcp/..%2F..%2Fadmin`,
  '/%2e%2e/mcp',
  '/%2e%2e/mcp/raw/echo',
  '/../mcp/raw/echo',
  `/${ORG}/mcp/%2e%2e/%2e%2e/x`,
  `/${ORG}/mcp/%2E%2e/%2e%2E/x`,
  `/${ORG}/mcp/.%2e/.%2e/x`,
  `/${ORG}/mcp/../../x`,
  `/${ORG}/mcp/..`,
  `/${ORG}/mcp/.`,
  `/${ORG}/mcp/./raw/echo`,
  `/${ORG}/mcp/raw/../../../admin`,
  `/${ORG}/mcp/raw/%2e%2e/%2e%2e/%2e%2e/admin`,
  `/${ORG}/mcp/a%2fb`,
  `/${ORG}/mcp/a%2Fb`,
  `/${ORG}/mcp/a%5cb`,
  `/${ORG}/mcp/..%5c..%5cadmin`,
  `/${ORG}/mcp/a\\b`,
  `/${ORG}/mcp/..\\..\\admin`,
  `/${ORG}/mcp/\\\\evil.example\\x`,
  `/${ORG}/mcp/%00`,
  `/${ORG}/mcp/raw%00/echo`,
  `/${ORG}/mcp/raw/echo%0d%0aX-Injected:%20yes`,
  `/${ORG}/mcp/raw/echo%7f`,
  `/${ORG}/mcp/%252e%252e/%252e%252e/admin`,
  `/${ORG}/mcp/%252f`,
  `/${ORG}/mcp/%25`,
  `/${ORG}%2fmcp`,
  `/${ORG}%2Fmcp/raw/echo`,
  `/${ORG}/mcp%2f..%2f..%2fadmin`,
  `/${ORG}%2e%2e/mcp`,
  `/${ORG}%00/mcp`,
  `/${ORG}.json/mcp`,
  `/..%2f${ORG}/mcp`,
  '/org_a%2e/mcp',
  '/org_a%2fb/mcp',
  '/org_a%5cb/mcp',
  '/org_a%252e/mcp',
  '/org_%C3%A1bc/mcp',
  '/ORG_abc/mcp',
  `/org_${'a'.repeat(65)}/mcp`,
  '//mcp',
  `//${ORG}/mcp`,
  `/${ORG}//mcp`,
  `/${ORG}/MCP`
]

function assertNotFound (t: Test, res: { status: number, body: string }, target: string): void {
  t.equal(res.status, 404, `${target} answers 404`)
  let body: { error?: unknown } = {}
  try { body = JSON.parse(res.body) } catch {}
  t.equal(body.error, 'not_found', `${target} answers JSON not_found: ${res.body}`)
}

t.test('hostile request targets get 404 JSON and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  const { port } = await listening(t, f.env)
  const authorization = `Bearer ${f.token()}`
  for (const path of HOSTILE) {
    for (const method of ['GET', 'POST', 'DELETE']) {
      const res = method === 'POST'
        ? await rawRequest(port, { method, path, headers: { authorization, 'content-type': 'application/json' }, body: '{}' })
        : await rawRequest(port, { method, path, headers: { authorization } })
      assertNotFound(t, res, `${method} ${path}`)
    }
  }
  t.same(f.upstream.requests.map(r => r.url), [], 'upstream received nothing')

  // The same harness does reach upstream with a sound path, so the 404s above are the gateway's.
  const ok = await rawRequest(port, { path: `/${ORG}/mcp/raw/echo`, headers: { authorization } })
  t.equal(ok.status, 200)
  t.same(f.upstream.requests.map(r => r.url), [`/mcp/${PARTITION}/raw/echo`])
})

t.test('hostile request targets get 404 before any token is asked for', async t => {
  const f = await startFixtures(t)
  const { port } = await listening(t, f.env)
  for (const path of [`/${ORG}/mcp/..%2f..%2fadmin`, '/%2e%2e/mcp', `/${ORG}/mcp/%2e%2e/x`, '/org_a%2e/mcp', `/${ORG}/mcp/a\\b`]) {
    const res = await rawRequest(port, { path })
    assertNotFound(t, res, path)
    t.notOk(res.headers['www-authenticate'], `${path} does not ask for a token`)
  }
  t.equal(f.upstream.requests.length, 0, 'upstream received nothing')
})

t.test('raw control characters in the target are refused by the HTTP parser and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  const { port } = await listening(t, f.env)
  const authorization = `Bearer ${f.token()}`
  // Node's HTTP parser refuses these before any route sees them.
  for (const path of [`/${ORG}/mcp/a\u0001b`, `/${ORG}/mcp/a\tb`, `/${ORG}/mcp/raw/echo\u007f`, `/${ORG}/mcp/a\u0000b`]) {
    const res = await rawRequest(port, { path, headers: { authorization } })
    t.ok(res.status === 400 || res.status === 404, `${JSON.stringify(path)} is refused (got ${res.status})`)
  }
  t.equal(f.upstream.requests.length, 0, 'upstream received nothing')
})

t.test('a malformed escape in the target gets a 400 JSON that does not echo the URL, and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  const { port } = await listening(t, f.env)
  const authorization = `Bearer ${f.token()}`
  for (const path of [`/${ORG}/mcp/%zz`, `/${ORG}/mcp/%`, `/${ORG}/mcp/%E0%A4%A`, '/org_a%zz/mcp', `/${ORG}/mcp/%zz?access_token=secret-in-query`]) {
    const res = await rawRequest(port, { path, headers: { authorization } })
    t.equal(res.status, 400, path)
    t.same(Object.keys(JSON.parse(res.body)).sort(), ['error', 'error_description'], `${path}: ${res.body}`)
    t.equal(JSON.parse(res.body).error, 'bad_request')
    t.notOk(res.body.includes('%'), 'the answer does not echo the URL')
    t.notOk(res.body.includes('secret-in-query'), 'the answer does not echo the query')
  }
  t.equal(f.upstream.requests.length, 0, 'upstream received nothing')
})

t.test('an org segment longer than any organization id is a 404, and URLs the router refuses still get their request line', async t => {
  const f = await startFixtures(t)
  const logs = captureLogs()
  const app = await build(t, f.env, { logger: { level: 'info', stream: logs.stream } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const authorization = `Bearer ${f.token()}`
  const long = await rawRequest(port, { path: `/org_${'a'.repeat(120)}/mcp`, headers: { authorization } })
  t.equal(long.status, 404, 'not a 500')
  t.same(JSON.parse(long.body), { error: 'not_found', error_description: 'no such resource' })
  const malformed = await rawRequest(port, { path: '/%zz/mcp', headers: { authorization } })
  t.equal(malformed.status, 400)
  const lines = logs.lines.filter(l => l.includes('"msg":"request completed"'))
  t.ok(lines.some(l => /"status":404/.test(l) && /"route":"\(not found\)"/.test(l)), 'a line for the 404')
  t.ok(lines.some(l => /"status":400/.test(l)), 'a line for the 400')
  t.notOk(logs.lines.join('\n').includes(f.token()), 'no token in the logs')
  t.notOk(logs.lines.join('\n').includes('%zz'), 'no raw URL in the logs')
  t.equal(f.upstream.requests.length, 0, 'upstream received nothing')
})

t.test('injected hostile targets (as a URL-normalising client sends them) never reach upstream', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const authorization = `Bearer ${f.token()}`
  for (const url of [`/${ORG}/mcp/..%2f..%2fadmin`, '/%2e%2e/mcp', `/${ORG}/mcp/%2e%2e/%2e%2e/x`, `/${ORG}/mcp/%00`, `/${ORG}/mcp/%252e%252e/x`, '/org_a%2e/mcp', `/${ORG}%2fmcp`]) {
    const res = await app.inject({ method: 'GET', url, headers: { authorization } })
    t.equal(res.statusCode, 404, `${url} answers 404`)
    t.equal(res.json().error, 'not_found', `${url} answers JSON not_found`)
  }
  t.equal(f.upstream.requests.length, 0, 'upstream received nothing')
})

t.test('a nested path and its query reach upstream verbatim under /mcp/<org lower-cased>/', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const authorization = `Bearer ${f.token()}`
  for (const method of ['GET', 'POST', 'DELETE'] as const) {
    const res = await app.inject({ method, url: `/${ORG}/mcp/raw/echo?z=1&a=%20`, headers: { authorization } })
    t.equal(res.statusCode, 200, res.body)
    t.same(res.json(), { method, url: `/mcp/${PARTITION}/raw/echo?z=1&a=%20`, bytes: 0 })
  }
  t.same(f.upstream.requests.map(r => [r.method, r.url, r.partition]), [
    ['GET', `/mcp/${PARTITION}/raw/echo?z=1&a=%20`, PARTITION],
    ['POST', `/mcp/${PARTITION}/raw/echo?z=1&a=%20`, PARTITION],
    ['DELETE', `/mcp/${PARTITION}/raw/echo?z=1&a=%20`, PARTITION]
  ])
})

t.test('harmless encodings and any query (dots, stray percent signs, quotes) pass upstream exactly as the client wrote them', async t => {
  const f = await startFixtures(t)
  const { port } = await listening(t, f.env)
  const authorization = `Bearer ${f.token()}`
  const rests = [
    'raw/echo%20x',
    'raw/caf%C3%A9',
    'raw/.well-known',
    'raw/a..b',
    'raw/echo?z=1&a=%20',
    'raw/echo?a=../../x&b=%2e%2e%2f',
    'raw/echo?q=%252e&r=a/b?c',
    'raw/echo?a=100%',
    'raw/echo?a=%E0%A4%A',
    'raw/echo?a=\'x\'&b="y"&c=<z>&d=%2F%5C'
  ]
  for (const rest of rests) {
    const res = await rawRequest(port, { path: `/${ORG}/mcp/${rest}`, headers: { authorization } })
    t.equal(res.status, 200, `${rest}: ${res.body}`)
  }
  t.same(f.upstream.requests.map(r => r.url), rests.map(rest => `/mcp/${PARTITION}/${rest}`))
})

t.test('/<org>/mcp goes to /mcp/<partition>/, with or without a trailing slash or query', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const authorization = `Bearer ${f.token()}`
  for (const url of [`/${ORG}/mcp`, `/${ORG}/mcp/`, `/${ORG}/mcp?x=1`]) {
    // No MCP session: the SDK upstream answers 400, and the gateway passes that on.
    const res = await app.inject({ method: 'GET', url, headers: { authorization, accept: 'text/event-stream' } })
    t.equal(res.statusCode, 400, res.body)
  }
  t.same(f.upstream.requests.map(r => r.url), [`/mcp/${PARTITION}/`, `/mcp/${PARTITION}/`, `/mcp/${PARTITION}/?x=1`])
})

async function withPrefix (t: Test, f: Fixtures, upstreamUrl: string, prefix: string): Promise<void> {
  const app = await build(t, { ...f.env, RAGIE_MCP_SERVER_URL: upstreamUrl })
  const res = await app.inject({ method: 'POST', url: `/${ORG}/mcp/raw/echo?z=1`, headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json' }, payload: '{}' })
  // The double only serves /mcp/...: its 404 for the prefixed path is passed on unchanged.
  t.equal(res.statusCode, 404)
  t.same(res.json(), { error: 'outside /mcp/' })
  t.equal(f.upstream.requests.at(-1)?.url, `${prefix}/mcp/${PARTITION}/raw/echo?z=1`)
}

t.test('a path prefix in RAGIE_MCP_SERVER_URL is kept in front of /mcp/<partition>/', async t => {
  const f = await startFixtures(t)
  await withPrefix(t, f, `${f.upstream.url}/prefix`, '/prefix')
  await withPrefix(t, f, `${f.upstream.url}/prefix/`, '/prefix')
  await withPrefix(t, f, `${f.upstream.url}/a/b`, '/a/b')
  t.equal(f.upstream.requests.length, 3)
})

t.test('a bare upstream base URL with a trailing slash adds no double slash', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, RAGIE_MCP_SERVER_URL: `${f.upstream.url}/` })
  const res = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token()}` } })
  t.equal(res.statusCode, 200)
  t.equal(f.upstream.requests[0]?.url, `/mcp/${PARTITION}/raw/echo`)
})
