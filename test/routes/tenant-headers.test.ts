import t from 'tap'
import type { Test } from 'tap'
import { request } from 'node:http'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { build, captureLogs, startFixtures, MEMBER, ORG, RAGIE_KEY } from '../helper.ts'
import { createSessionBinder } from '../../lib/session.ts'
import type { Fixtures, TestContext } from '../helper.ts'
import type { UpstreamRequest } from '../fixtures/upstream.ts'
import { until } from '../fixtures/until.ts'

const PARTITION = ORG.toLowerCase()
const ECHO = `/${ORG}/mcp/raw/echo`

/** The one request upstream received, failing the test when there were none or several. */
function onlyRequest (t: Test, f: Fixtures): UpstreamRequest {
  t.equal(f.upstream.requests.length, 1, 'upstream received exactly one request')
  return f.upstream.requests[0] ?? { method: '', url: '', headers: {}, partition: null, aborted: false }
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

async function listening (t: TestContext, env: Record<string, string>): Promise<string> {
  const app = await build(t, env)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

t.test('upstream gets the Ragie key, and none of the client\'s credentials or hop-by-hop headers', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const token = f.token()
  const res = await app.inject({
    method: 'POST',
    url: ECHO,
    headers: {
      authorization: `Bearer ${token}`,
      cookie: 'session=abc; other=def',
      'proxy-authorization': 'Basic dXNlcjpwYXNz',
      connection: 'keep-alive, x-secret',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      upgrade: 'websocket',
      'proxy-connection': 'keep-alive',
      'x-secret': 'only-for-the-next-hop',
      'x-kept': 'yes',
      'content-type': 'application/json'
    },
    payload: '{}'
  })
  t.equal(res.statusCode, 200, res.body)
  const { headers } = onlyRequest(t, f)
  t.equal(headers.authorization, `Bearer ${RAGIE_KEY}`)
  for (const [name, value] of Object.entries(headers)) {
    t.notOk(String(value).includes(token), `${name} does not carry the client's token`)
    t.notOk(String(value).includes(token.split('.')[2]), `${name} does not carry the token's signature`)
  }
  for (const name of ['cookie', 'proxy-authorization', 'keep-alive', 'te', 'upgrade', 'proxy-connection', 'x-secret']) {
    t.equal(headers[name], undefined, `${name} is not sent upstream`)
  }
  t.not(headers.connection, 'keep-alive, x-secret', 'the client\'s Connection header is not sent upstream')
  t.equal(headers['x-kept'], 'yes', 'an ordinary header passes')
})

t.test('a partition header from the client never reaches Ragie: the partition is the gateway\'s, in the path', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const res = await app.inject({ method: 'GET', url: ECHO, headers: { authorization: `Bearer ${f.token()}`, partition: 'another_tenant', 'x-kept': 'yes' } })
  t.equal(res.statusCode, 200, res.body)
  const { headers, url } = onlyRequest(t, f)
  t.equal(headers.partition, undefined)
  t.notOk(JSON.stringify(headers).includes('another_tenant'))
  t.equal(headers['x-kept'], 'yes')
  t.ok(url?.startsWith(`/mcp/${ORG.toLowerCase()}/`), url)
})

t.test('client X-Forwarded-* and Forwarded are not trusted: upstream gets the gateway\'s own', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const res = await app.inject({
    method: 'GET',
    url: ECHO,
    remoteAddress: '10.1.2.3',
    headers: {
      authorization: `Bearer ${f.token()}`,
      host: 'mcp.gateway.test',
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'gopher',
      'x-forwarded-port': '6666',
      'x-real-ip': '6.6.6.6',
      forwarded: 'for=6.6.6.6;host=evil.example;proto=gopher',
      // Others that servers and proxies act on: a path, a method, a client address or certificate.
      'x-forwarded-prefix': '/mcp/evil-partition/',
      'x-forwarded-uri': '/mcp/evil-partition/',
      'x-forwarded-client-cert': 'Hash=evil.example',
      'x-original-url': '/mcp/evil-partition/',
      'x-rewrite-url': '/mcp/evil-partition/',
      'x-http-method-override': 'PUT',
      'x-method-override': 'PUT',
      'true-client-ip': '6.6.6.6',
      'cf-connecting-ip': '6.6.6.6',
      'x-client-ip': '6.6.6.6'
    }
  })
  t.equal(res.statusCode, 200, res.body)
  const { headers } = onlyRequest(t, f)
  t.equal(headers['x-forwarded-for'], '10.1.2.3')
  t.equal(headers['x-forwarded-proto'], 'http')
  t.equal(headers['x-forwarded-host'], 'mcp.gateway.test')
  t.equal(headers.forwarded, undefined)
  t.equal(headers['x-real-ip'], undefined)
  t.equal(headers['x-forwarded-port'], undefined)
  const all = JSON.stringify(headers)
  t.notOk(all.includes('6.6.6.6'), 'no client-claimed address reaches upstream')
  t.notOk(all.includes('evil.example'), 'no client-claimed host reaches upstream')
  t.notOk(all.includes('gopher'), 'no client-claimed protocol reaches upstream')
  t.notOk(all.includes('evil-partition'), 'no client-claimed path reaches upstream')
  t.notOk(all.includes('PUT'), 'no client-claimed method reaches upstream')
  t.same(Object.keys(headers).filter(name => name.startsWith('x-forwarded-')).sort(), ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto'], 'only the gateway\'s own X-Forwarded-*')
})

t.test('Ragie is asked for uncompressed answers, whatever the client accepts', async t => {
  // Event streams reach the client uncompressed (SPEC §6); the gateway reads their event
  // boundaries and adds keep-alive comments, which no compressed stream could take.
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const res = await app.inject({ method: 'GET', url: ECHO, headers: { authorization: `Bearer ${f.token()}`, 'accept-encoding': 'gzip, deflate, br' } })
  t.equal(res.statusCode, 200)
  t.equal(onlyRequest(t, f).headers['accept-encoding'], 'identity')
})

t.test('MCP headers pass upstream unchanged, the session id unwrapped to Ragie\'s own', async t => {
  const f = await startFixtures(t)
  const secret = 'a-session-secret-of-at-least-32-characters'
  const app = await build(t, { ...f.env, SESSION_SECRET: secret })
  // What another instance with the same secret handed the client for Ragie's session '3f0b9c8e-session'.
  const bound = createSessionBinder(Buffer.from(secret)).wrap('3f0b9c8e-session', { userId: MEMBER, org: ORG, partition: ORG.toLowerCase(), apiKey: RAGIE_KEY }) as string
  const mcp = {
    'mcp-protocol-version': '2025-06-18',
    'last-event-id': 'evt-42',
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json; charset=utf-8',
    'mcp-method': 'tools/call',
    'mcp-name': 'echo',
    'mcp-param-foo': 'bar baz'
  }
  const res = await app.inject({ method: 'POST', url: ECHO, headers: { authorization: `Bearer ${f.token()}`, 'mcp-session-id': bound, ...mcp }, payload: '{"jsonrpc":"2.0"}' })
  t.equal(res.statusCode, 200, res.body)
  const { headers } = onlyRequest(t, f)
  for (const [name, value] of Object.entries(mcp)) t.equal(headers[name], value, `${name} passes unchanged`)
  t.equal(headers['mcp-session-id'], '3f0b9c8e-session')
})

t.test('request bodies pass upstream byte for byte, unparsed', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const authorization = `Bearer ${f.token()}`
  const bodies: Array<[string, string]> = [
    ['application/json', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"héllo ✓ 𝄞"}}}'],
    ['application/json', '{"not json'],
    ['application/json', '  {"a" : 1 , "b":[1,2,3]}\n'],
    ['text/plain', 'x'.repeat(256 * 1024)],
    ['application/octet-stream', 'line1\r\nline2\u0000\u00ff']
  ]
  for (const [type, body] of bodies) {
    const before = f.upstream.requests.length
    const res = await app.inject({ method: 'POST', url: ECHO, headers: { authorization, 'content-type': type }, payload: Buffer.from(body) })
    t.equal(res.statusCode, 200, res.body.slice(0, 200))
    t.equal(res.json().bytes, body.length, `${type}: upstream counted every character`)
    const entry = f.upstream.requests[before]
    t.equal(entry?.body, body, `${type}: upstream received the body unchanged`)
    t.equal(entry?.headers['content-type'], type)
  }
})

t.test('a client that asks for 100-continue gets it from the gateway, and its body reaches Ragie', async t => {
  // curl sends `Expect: 100-continue` with bodies over 1 MB. Node's server answers it; the gateway
  // has the whole body to send, so Ragie is not asked (undici refuses to send the header at all).
  const f = await startFixtures(t)
  const base = await listening(t, f.env)
  const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}'
  const { status, text, continued } = await new Promise<{ status: number, text: string, continued: boolean }>((resolve, reject) => {
    let continued = false
    const req = request(`${base}${ECHO}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json', 'content-length': String(body.length), expect: '100-continue' }
    }, res => {
      let text = ''
      res.setEncoding('utf8').on('data', chunk => { text += chunk }).on('end', () => resolve({ status: res.statusCode ?? 0, text, continued }))
    })
    req.on('continue', () => {
      continued = true
      req.end(body)
    })
    req.on('error', reject)
  })
  t.ok(continued, 'the client was told to go on')
  t.equal(status, 200, text)
  const seen = onlyRequest(t, f)
  t.equal(seen.body, body, 'upstream received the body')
  t.equal(seen.headers.expect, undefined, 'and no Expect header')
})

t.test('upstream status codes pass unchanged, and a 503 is not retried', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const authorization = `Bearer ${f.token()}`
  for (const method of ['GET', 'POST'] as const) {
    for (const code of [200, 202, 400, 404, 405, 503]) {
      const before = f.upstream.requests.length
      const res = await app.inject({ method, url: `/${ORG}/mcp/raw/status/${code}`, headers: { authorization } })
      t.equal(res.statusCode, code, `${method} ${code} passes`)
      t.same(res.json(), { status: code }, `${method} ${code} body passes`)
      t.equal(f.upstream.requests.length - before, 1, `${method} ${code}: upstream got exactly one request`)
    }
  }
})

t.test('Ragie refusing the gateway\'s key (401) is a 502 for the client, never a challenge to sign in again', async t => {
  // Ragie only ever sees the gateway's key: its 401 says the key is wrong, not the user's token.
  // Passed on, every MCP client would take it for its own token and loop through sign-in (or
  // follow Ragie's challenge to Ragie's own authorization server).
  const f = await startFixtures(t)
  const logs = captureLogs()
  const app = await build(t, f.env, { logger: { level: 'info', stream: logs.stream } })
  const authorization = `Bearer ${f.token()}`
  for (const method of ['GET', 'POST'] as const) {
    const res = await app.inject({ method, url: `/${ORG}/mcp/raw/status/401`, headers: { authorization } })
    t.equal(res.statusCode, 502, `${method}: 502`)
    t.same(res.json(), { error: 'bad_gateway', error_description: 'the MCP server refused the gateway\'s credentials' })
    t.equal(res.headers['www-authenticate'], undefined, 'no challenge')
    t.equal(res.headers['x-upstream'], undefined, 'none of the refusal\'s headers')
  }
  t.equal(f.upstream.requests.length, 2)
  const refused = logs.lines.filter(l => l.includes('refused the gateway\'s API key'))
  t.equal(refused.length, 2, 'the operator is told, once a request')
  t.notOk(logs.lines.join('\n').includes(RAGIE_KEY), 'without the key')

  const forbidden = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/status/403`, headers: { authorization } })
  t.equal(forbidden.statusCode, 403, 'a 403 passes, as other statuses do')
  t.equal(forbidden.headers['www-authenticate'], undefined, 'but never Ragie\'s challenge')
})

t.test('upstream Set-Cookie and Access-Control-* headers are dropped, others pass', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const res = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/status/200`, headers: { authorization: `Bearer ${f.token()}` } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-upstream'], 'yes', 'an ordinary upstream header passes')
  t.equal(res.headers['set-cookie'], undefined, 'Set-Cookie is dropped')
  t.equal(res.headers['access-control-allow-origin'], undefined, 'upstream CORS is dropped')
  t.notOk(JSON.stringify(res.headers).includes('upstream=secret'))
})

t.test('an event stream reaches the client as produced, unbuffered, and a client disconnect aborts upstream', async t => {
  const f = await startFixtures(t)
  const base = await listening(t, f.env)
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const res = await fetch(`${base}/${ORG}/mcp/raw/sse`, {
    headers: { authorization: `Bearer ${f.token()}`, accept: 'text/event-stream' },
    signal: controller.signal
  })
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/event-stream/)
  t.equal(res.headers.get('x-accel-buffering'), 'no')
  t.equal(res.headers.get('content-encoding'), null, 'not compressed')
  t.ok(res.body, 'has a body')

  // The upstream stream never ends: reading events proves they are not held until the end.
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  while (!text.includes('data: {"n":2}')) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  t.match(text, /id: 1\ndata: \{"n":1\}\n\n/)
  t.match(text, /id: 2\ndata: \{"n":2\}\n\n/)

  const upstream = f.upstream.requests[0]
  t.equal(upstream?.url, `/mcp/${PARTITION}/raw/sse`)
  t.equal(upstream?.aborted, false, 'upstream stream open while the client reads')
  const connections = f.upstream.connections
  controller.abort()
  await reader.cancel().catch(() => {})
  await until(() => upstream?.aborted === true)
  t.equal(upstream?.aborted, true, 'upstream request closed after the client left')
  t.equal(f.upstream.requests.length, 1, 'nothing was retried')
  // undici 7 opened a stray connection at once after such an abort (lib/upstream-pools.ts).
  await sleep(200)
  t.equal(f.upstream.connections, connections, 'and no connection was opened to the upstream after it')
})

t.test('upstream unreachable: 502 JSON naming no host, port or key', async t => {
  const f = await startFixtures(t)
  const port = await closedPort()
  // A real socket: inject mirrors the request body's destruction onto its fake response.
  const base = await listening(t, { ...f.env, RAGIE_MCP_SERVER_URL: `http://127.0.0.1:${port}` })
  for (const method of ['GET', 'POST', 'DELETE']) {
    const res = await fetch(`${base}${ECHO}`, { method, headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json' }, body: method === 'POST' ? '{"jsonrpc":"2.0"}' : undefined })
    const text = await res.text()
    t.equal(res.status, 502, `${method}: ${text}`)
    const body = JSON.parse(text)
    t.equal(body.error, 'bad_gateway')
    t.type(body.error_description, 'string')
    const everything = text + JSON.stringify([...res.headers])
    for (const secret of ['127.0.0.1', String(port), RAGIE_KEY, 'ECONNREFUSED', 'at ']) {
      t.notOk(everything.includes(secret), `the answer does not contain ${JSON.stringify(secret)}`)
    }
  }
})

t.test('upstream too slow to send headers: 504 JSON with no internals, not retried', async t => {
  // GET (the events pool) and the calls (the calls pool, whose body timeout differs).
  for (const method of ['GET', 'POST', 'DELETE'] as const) {
    const f = await startFixtures(t)
    const app = await build(t, { ...f.env, UPSTREAM_HEADERS_TIMEOUT_MS: '200' })
    const started = Date.now()
    const res = await app.inject({ method, url: `/${ORG}/mcp/raw/slow/3000`, headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json' }, payload: method === 'POST' ? '{"jsonrpc":"2.0"}' : undefined })
    t.equal(res.statusCode, 504, `${method}: ${res.body}`)
    t.ok(Date.now() - started < 2000, `${method}: answered at the timeout, not when the upstream answered`)
    t.equal(res.json().error, 'gateway_timeout')
    const everything = res.body + JSON.stringify(res.headers)
    for (const secret of ['127.0.0.1', new URL(f.upstream.url).port, RAGIE_KEY, 'UND_ERR', 'at ']) {
      t.notOk(everything.includes(secret), `${method}: the answer does not contain ${JSON.stringify(secret)}`)
    }
    const upstream = onlyRequest(t, f)
    await until(() => upstream.aborted)
    t.equal(upstream.aborted, true, `${method}: the slow upstream request was given up`)
  }
})

t.test('the headers timeout ends with the headers: a call answered by a quiet event stream stays open', async t => {
  const f = await startFixtures(t)
  const base = await listening(t, { ...f.env, UPSTREAM_HEADERS_TIMEOUT_MS: '200' })
  const controller = new AbortController()
  t.teardown(() => { controller.abort() })
  const res = await fetch(`${base}/${ORG}/mcp/raw/quiet`, { method: 'POST', signal: controller.signal, headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0"}' })
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'text/event-stream')
  const reader = res.body!.getReader()
  let ended = false
  const reading = (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {}
    ended = true
  })()
  await sleep(800)
  const upstream = onlyRequest(t, f)
  t.equal(upstream.aborted, false, 'the upstream request, silent four times the headers timeout, was not given up')
  t.equal(ended, false, 'and the client\'s stream is still open')
  controller.abort()
  await reading
})

t.test('an Origin outside ALLOWED_ORIGINS gets 403 and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, ALLOWED_ORIGINS: 'https://good.example' })
  for (const method of ['GET', 'POST', 'DELETE'] as const) {
    const res = await app.inject({ method, url: ECHO, headers: { authorization: `Bearer ${f.token()}`, origin: 'https://evil.example' } })
    t.equal(res.statusCode, 403, `${method} from an evil origin`)
    t.equal(res.json().error, 'forbidden_origin')
    t.equal(res.headers['access-control-allow-origin'], undefined)
  }
  t.equal(f.upstream.requests.length, 0, 'upstream received nothing')
})

t.test('the Origin is checked before the token: an evil origin without a token gets 403, not 401', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, ALLOWED_ORIGINS: 'https://good.example' })
  const res = await app.inject({ method: 'POST', url: `/${ORG}/mcp`, headers: { origin: 'https://evil.example' } })
  t.equal(res.statusCode, 403)
  t.equal(res.json().error, 'forbidden_origin')
  t.equal(res.headers['www-authenticate'], undefined, 'no token is asked for')
  t.equal(f.upstream.requests.length, 0)
})

t.test('an allowed Origin is proxied, with the gateway\'s CORS headers instead of upstream\'s', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, ALLOWED_ORIGINS: 'https://good.example' })
  const res = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/status/200`, headers: { authorization: `Bearer ${f.token()}`, origin: 'https://good.example' } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['access-control-allow-origin'], 'https://good.example', 'the origin, not upstream\'s *')
  const exposed = String(res.headers['access-control-expose-headers']).split(',').map(h => h.trim().toLowerCase())
  t.ok(exposed.includes('mcp-session-id'), 'Mcp-Session-Id is exposed')
  t.ok(exposed.includes('www-authenticate'), 'WWW-Authenticate is exposed')
  t.equal(res.headers.vary, 'Accept-Encoding, Origin', 'Ragie\'s Vary and the gateway\'s own, neither replacing the other')
  t.equal(f.upstream.requests.length, 1)

  const noOrigin = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/status/200`, headers: { authorization: `Bearer ${f.token()}` } })
  t.equal(noOrigin.headers.vary, 'Accept-Encoding', 'without an Origin, Ragie\'s Vary as it is')
})

t.test('Ragie refusing the gateway\'s key answers a browser a 502 it can read: the gateway\'s CORS headers stay', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, ALLOWED_ORIGINS: 'https://good.example' })
  const res = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/status/401`, headers: { authorization: `Bearer ${f.token()}`, origin: 'https://good.example' } })
  t.equal(res.statusCode, 502)
  t.equal(res.headers['access-control-allow-origin'], 'https://good.example')
  t.equal(res.headers.vary, 'Origin')
  t.match(String(res.headers['access-control-expose-headers']), /Mcp-Session-Id/)
  t.equal(res.headers['x-upstream'], undefined, 'none of Ragie\'s headers')
})

t.test('an allowed Origin without a token gets a 401 the browser can read', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, ALLOWED_ORIGINS: 'https://good.example' })
  const res = await app.inject({ method: 'POST', url: `/${ORG}/mcp`, headers: { origin: 'https://good.example' } })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['access-control-allow-origin'], 'https://good.example')
  t.match(String(res.headers['access-control-expose-headers']), /WWW-Authenticate/i)
  t.match(String(res.headers['www-authenticate']), /resource_metadata=/)
  t.equal(f.upstream.requests.length, 0)
})

t.test('without ALLOWED_ORIGINS any Origin may call, and gets its own origin back', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const res = await app.inject({ method: 'GET', url: ECHO, headers: { authorization: `Bearer ${f.token()}`, origin: 'https://anywhere.example' } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['access-control-allow-origin'], 'https://anywhere.example')
})

t.test('a CORS preflight for /<org>/mcp gets 204 with CORS headers, needs no token, and reaches nothing upstream', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, ALLOWED_ORIGINS: 'https://good.example' })
  for (const url of [`/${ORG}/mcp`, ECHO]) {
    const res = await app.inject({
      method: 'OPTIONS',
      url,
      headers: { origin: 'https://good.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, mcp-session-id, mcp-protocol-version' }
    })
    t.equal(res.statusCode, 204, url)
    t.equal(res.headers['access-control-allow-origin'], 'https://good.example')
    t.match(String(res.headers['access-control-allow-methods']), /POST/)
    t.match(String(res.headers['access-control-allow-methods']), /DELETE/)
    const allowed = String(res.headers['access-control-allow-headers']).toLowerCase()
    for (const h of ['authorization', 'content-type', 'mcp-session-id', 'mcp-protocol-version']) t.ok(allowed.includes(h), `${h} may be sent`)
    t.match(String(res.headers['access-control-expose-headers']), /Mcp-Session-Id/)
    t.equal(res.headers['www-authenticate'], undefined)
  }
  const evil = await app.inject({ method: 'OPTIONS', url: `/${ORG}/mcp`, headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
  t.equal(evil.statusCode, 403, 'a preflight from an evil origin is refused')
  t.equal(evil.headers['access-control-allow-origin'], undefined)
  for (const url of ['/not-an-org/mcp', '/not-an-org/mcp/x', `/${ORG}/mcp/../admin`, `/${ORG}/mcp/%2e%2e/x`]) {
    const stray = await app.inject({ method: 'OPTIONS', url, headers: { origin: 'https://good.example', 'access-control-request-method': 'POST' } })
    t.equal(stray.statusCode, 404, `a preflight for ${url}: 404, as any other path`)
    t.same(stray.json(), { error: 'not_found', error_description: 'no such resource' })
    t.equal(stray.headers['access-control-allow-methods'], undefined)
  }
  t.equal(f.upstream.requests.length, 0, 'upstream received nothing')
})
