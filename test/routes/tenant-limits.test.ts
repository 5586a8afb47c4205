import t from 'tap'
import type { Test } from 'tap'
import { request } from 'node:http'
import type { IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { constants as zlib, createGzip, gunzipSync } from 'node:zlib'
import { build, captureLogs, startFixtures, MEMBER, ORG, STRANGER } from '../helper.ts'
import type { TestContext } from '../helper.ts'
import { rawRequest } from '../fixtures/raw-http.ts'
import { openEventStream, startScriptedUpstream } from '../fixtures/scripted-upstream.ts'
import { until } from '../fixtures/until.ts'

const ECHO = `/${ORG}/mcp/raw/echo`
const SSE = `/${ORG}/mcp/raw/sse`
const COLLEAGUE = 'user_01COLLEAGUE0000000000000'

async function listening (t: TestContext, env: Record<string, string>, serverOptions: Record<string, unknown> = {}): Promise<number> {
  const app = await build(t, env, serverOptions)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as AddressInfo).port
}

/** GET of the tenant's event stream over node:http (no decompression, unlike fetch); closed when `t` ends. */
function askForStream (t: TestContext, port: number, headers: Record<string, string>): Promise<IncomingMessage> {
  const req = request({ port, host: '127.0.0.1', path: `/${ORG}/mcp`, headers: { accept: 'text/event-stream', ...headers } })
  t.teardown(() => req.destroy())
  const answered = new Promise<IncomingMessage>((resolve, reject) => { req.on('response', resolve); req.on('error', reject) })
  req.end()
  return answered
}

async function readAll (res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of res) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString()
}

t.test('a declared body over BODY_LIMIT gets 413 JSON, the connection closed, and nothing upstream', async t => {
  const f = await startFixtures(t)
  const port = await listening(t, { ...f.env, BODY_LIMIT: '1024' })
  const res = await rawRequest(port, { method: 'POST', path: ECHO, headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json' }, body: 'x'.repeat(1025) })
  t.equal(res.status, 413)
  t.same(JSON.parse(res.body), { error: 'payload_too_large', error_description: 'the request body may not be larger than 1024 bytes' })
  t.equal(res.headers.connection, 'close')
  t.equal(f.upstream.requests.length, 0, 'upstream received nothing')

  const exact = await rawRequest(port, { method: 'POST', path: ECHO, headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json' }, body: 'x'.repeat(1024) })
  t.equal(exact.status, 200, 'a body of exactly the limit passes')
  t.equal(f.upstream.requests[0]?.body?.length, 1024)
})

t.test('a GET or DELETE declaring a body over BODY_LIMIT, with a content type or none: 413 as for a POST, and nothing upstream', async t => {
  const f = await startFixtures(t)
  const port = await listening(t, { ...f.env, BODY_LIMIT: '1024' })
  for (const method of ['GET', 'DELETE']) {
    for (const type of [{ 'content-type': 'application/json' }, {}] as Array<Record<string, string>>) {
      const res = await rawRequest(port, { method, path: ECHO, headers: { authorization: `Bearer ${f.token()}`, ...type }, body: 'x'.repeat(1025) })
      const what = `${method}${'content-type' in type ? ' with a content type' : ''}`
      t.equal(res.status, 413, what)
      t.same(JSON.parse(res.body), { error: 'payload_too_large', error_description: 'the request body may not be larger than 1024 bytes' }, what)
    }
  }
  t.equal(f.upstream.requests.length, 0, 'upstream received nothing')
  const unauthenticated = await rawRequest(port, { method: 'GET', path: ECHO, headers: {}, body: 'x'.repeat(1025) })
  t.equal(unauthenticated.status, 401, 'the checks come first, as for a POST')
})

t.test('the default limit is 4 MiB: a larger declared length is refused before any byte is read', async t => {
  const f = await startFixtures(t)
  const port = await listening(t, f.env)
  // Headers only: the gateway answers on the declared length, without waiting for the body.
  const res = await rawRequest(port, { method: 'POST', path: ECHO, headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json', 'content-length': String(4 * 1024 * 1024 + 1) } })
  t.equal(res.status, 413)
  t.equal(f.upstream.requests.length, 0)
})

t.test('a chunked body growing past BODY_LIMIT gets 413, and upstream never receives a complete body', async t => {
  const f = await startFixtures(t)
  const port = await listening(t, { ...f.env, BODY_LIMIT: '1024' })
  const req = request({ port, host: '127.0.0.1', method: 'POST', path: ECHO, headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } })
  const answered = new Promise<IncomingMessage>((resolve, reject) => { req.on('response', resolve); req.on('error', reject) })
  req.write('a'.repeat(600))
  const upstream = await f.upstream.waitFor(r => r.url.endsWith('/raw/echo'))
  req.write('b'.repeat(600))
  const res = await answered
  t.equal(res.statusCode, 413)
  t.equal(JSON.parse(await readAll(res)).error, 'payload_too_large')
  req.destroy()
  await until(() => upstream.aborted)
  t.equal(upstream.body, undefined, 'the upstream request was aborted before its body completed')
  t.equal(f.upstream.requests.length, 1)
})

t.test('a chunked body within the limit passes whole', async t => {
  const f = await startFixtures(t)
  const port = await listening(t, { ...f.env, BODY_LIMIT: '1024' })
  const req = request({ port, host: '127.0.0.1', method: 'POST', path: ECHO, headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } })
  const answered = new Promise<IncomingMessage>(resolve => req.on('response', resolve))
  req.write('a'.repeat(600))
  req.end('b'.repeat(424))
  const res = await answered
  t.equal(res.statusCode, 200)
  t.equal(JSON.parse(await readAll(res)).bytes, 1024)
})

t.test('headers larger than Node\'s limit get 431 JSON and nothing upstream', async t => {
  const f = await startFixtures(t)
  const port = await listening(t, f.env)
  const res = await rawRequest(port, { path: ECHO, headers: { authorization: `Bearer ${f.token()}`, 'x-padding': 'p'.repeat(20 * 1024) } })
  t.equal(res.status, 431)
  t.equal(JSON.parse(res.body).error, 'request_header_fields_too_large')
  t.equal(f.upstream.requests.length, 0)
})

t.test('MAX_STREAMS_PER_USER: one stream too many gets 429 JSON with Retry-After, and nothing upstream', async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: COLLEAGUE, organizationId: ORG, status: 'active', role: 'member' })
  const port = await listening(t, { ...f.env, MAX_STREAMS_PER_USER: '2', RETRY_AFTER_SECONDS: '3' })
  const base = `http://127.0.0.1:${port}`
  const open = (sub: string) => {
    const controller = new AbortController()
    t.teardown(() => controller.abort())
    return fetch(`${base}${SSE}`, { headers: { authorization: `Bearer ${f.token(sub)}`, accept: 'text/event-stream' }, signal: controller.signal })
      .then(res => ({ res, close: () => controller.abort() }))
  }
  const first = await open(MEMBER)
  const second = await open(MEMBER)
  t.equal(first.res.status, 200)
  t.equal(second.res.status, 200)
  await until(() => f.upstream.requests.length === 2)

  const third = await open(MEMBER)
  t.equal(third.res.status, 429)
  t.equal(third.res.headers.get('retry-after'), '3')
  t.same(await third.res.json(), { error: 'too_many_requests', error_description: 'too many open streams for this user' })
  t.equal(f.upstream.requests.length, 2, 'the refused stream never reached upstream')

  const post = await fetch(`${base}${ECHO}`, { method: 'POST', headers: { authorization: `Bearer ${f.token(MEMBER)}`, 'content-type': 'application/json' }, body: '{}' })
  t.equal(post.status, 200, 'calls (POST) are not streams: not counted')
  const colleague = await open(COLLEAGUE)
  t.equal(colleague.res.status, 200, 'another user has their own quota')

  first.close()
  // The slot frees once the gateway sees the first stream close.
  let again = await open(MEMBER)
  for (let tries = 0; again.res.status === 429 && tries < 250; tries++) {
    await sleep(20)
    again = await open(MEMBER)
  }
  t.equal(again.res.status, 200, 'a closed stream frees its slot (within 5 s)')
})

t.test('a client that leaves while its membership is looked up takes no stream slot, and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  f.workos.delayMs = 300
  const logs = captureLogs()
  const port = await listening(t, { ...f.env, MAX_STREAMS_PER_USER: '1' }, { logger: { level: 'info', stream: logs.stream } })
  const base = `http://127.0.0.1:${port}`
  f.workos.addMembership({ userId: COLLEAGUE, organizationId: ORG, status: 'active', role: 'member' })
  const authorization = `Bearer ${f.token(MEMBER)}`
  // A stream (GET) and a call (POST, another user's: a membership is only looked up once), each
  // abandoned before WorkOS has answered.
  for (const init of [
    { method: 'GET', headers: { authorization, accept: 'text/event-stream' } },
    { method: 'POST', headers: { authorization: `Bearer ${f.token(COLLEAGUE)}`, 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' }
  ]) {
    const controller = new AbortController()
    const calls = f.workos.calls.length
    const left = fetch(`${base}${init.method === 'GET' ? SSE : ECHO}`, { ...init, signal: controller.signal }).catch(() => 'aborted')
    await until(() => f.workos.calls.length > calls)
    controller.abort()
    t.equal(await left, 'aborted')
    // WorkOS answers after the client has gone; the membership is cached from then on. A call of
    // the same user then answered from that cache shows the gateway is done with the first.
    await until(() => f.workos.answered === calls + 1)
    const barrier = await fetch(`${base}${ECHO}?barrier`, { method: 'POST', headers: { authorization: init.headers.authorization, 'content-type': 'application/json' }, body: '{}' })
    t.equal(barrier.status, 200)
    t.equal(f.workos.calls.length, calls + 1, 'the barrier was answered from the cache')
  }
  t.same(f.upstream.requests.map(r => r.url.endsWith('?barrier')), [true, true], 'nothing but the barriers was sent to Ragie: nothing for a client that had left')
  const lines = logs.lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.msg === 'request completed')
  t.same(lines.map(l => [l.method, l.status]), [['GET', 499], ['POST', 200], ['POST', 499], ['POST', 200]], 'each has its request line, with status 499')

  f.workos.delayMs = 0
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const stream = await fetch(`${base}${SSE}`, { headers: { authorization, accept: 'text/event-stream' }, signal: controller.signal })
  t.equal(stream.status, 200, 'the abandoned stream left its slot free')
})

t.test('SSE keep-alive: an idle stream gets ": ping" frames, only between events', async t => {
  const f = await startFixtures(t)
  const scripted = await startScriptedUpstream()
  t.teardown(() => scripted.close())
  const port = await listening(t, { ...f.env, RAGIE_MCP_SERVER_URL: scripted.url, SSE_KEEPALIVE: '1' })
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const answer = fetch(`http://127.0.0.1:${port}/${ORG}/mcp`, { headers: { authorization: `Bearer ${f.token()}`, accept: 'text/event-stream' }, signal: controller.signal })
  const upstream = await scripted.next()
  openEventStream(upstream.res)
  const res = await answer
  t.equal(res.status, 200)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  const pump = async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
      if (done) return
      text += decoder.decode(value, { stream: true })
    }
  }
  pump().catch(() => {})

  await until(() => text.includes(': ping\n\n'))
  t.match(text, /^(: ping\n\n)+$/, 'pings on a stream that has sent nothing yet')

  upstream.res.write('id: 1\ndata: {"half":')
  await until(() => text.endsWith('data: {"half":'))
  const inside = text
  // Two and a half keep-alive periods with the event open.
  await sleep(2500)
  t.equal(text, inside, 'no ping inside an unfinished event')
  upstream.res.write('true}\n\n')
  await until(() => text.endsWith('true}\n\n: ping\n\n'))
  t.pass('the next ping comes once the event is complete')
  t.ok(text.split('\n\n').filter(Boolean).every(frame => frame === ': ping' || frame === 'id: 1\ndata: {"half":true}'), 'every frame is whole')
})

t.test('an event stream Ragie has opened but not written to is answered at once, not at its first byte', async t => {
  const f = await startFixtures(t)
  const scripted = await startScriptedUpstream()
  t.teardown(() => scripted.close())
  // No pings: nothing but the answer's headers can reach the client while Ragie is silent.
  const port = await listening(t, { ...f.env, RAGIE_MCP_SERVER_URL: scripted.url, SSE_KEEPALIVE: '0' })
  const answered = askForStream(t, port, { authorization: `Bearer ${f.token()}`, origin: 'http://localhost:6274' })
  const upstream = await scripted.next()
  openEventStream(upstream.res)
  const res = await Promise.race([answered, sleep(5000).then(() => null)])
  if (res === null) return t.fail('no answer while Ragie sent no event')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/event-stream/)
  t.equal(res.headers['x-accel-buffering'], 'no', 'the gateway\'s own headers are in it')
  t.equal(res.headers['access-control-allow-origin'], 'http://localhost:6274', 'and its CORS headers')
  const received: Buffer[] = []
  res.on('data', (chunk: Buffer) => received.push(chunk))
  upstream.res.write('id: 1\ndata: {"n":1}\n\n')
  await until(() => Buffer.concat(received).toString() === 'id: 1\ndata: {"n":1}\n\n')
  t.pass('then the events follow')
})

t.test('SSE keep-alive: a compressed event stream (Ragie ignoring Accept-Encoding: identity) passes byte for byte, without pings', async t => {
  const f = await startFixtures(t)
  const scripted = await startScriptedUpstream()
  t.teardown(() => scripted.close())
  const logs = captureLogs()
  const port = await listening(t, { ...f.env, RAGIE_MCP_SERVER_URL: scripted.url, SSE_KEEPALIVE: '1', LOG_LEVEL: 'info' }, { logger: { level: 'info', stream: logs.stream } })
  // Over node:http (askForStream), not fetch: fetch would decompress, and the test is about the bytes on the wire.
  const answered = askForStream(t, port, { authorization: `Bearer ${f.token()}` })
  const upstream = await scripted.next()
  t.equal(upstream.req.headers['accept-encoding'], 'identity', 'asked for no compression')
  upstream.res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' })
  upstream.res.flushHeaders()
  const res = await answered
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-encoding'], 'gzip', 'the client is told how to read it')
  const received: Buffer[] = []
  res.on('data', (chunk: Buffer) => received.push(chunk))

  // Two and a half keep-alive periods of silence before the first byte: an uncompressed stream
  // gets pings here (the test above), and a ping before the gzip header breaks the whole stream.
  await sleep(2500)
  t.equal(Buffer.concat(received).length, 0, 'no ping inserted')
  const gzip = createGzip()
  const sent: Buffer[] = []
  gzip.on('data', (chunk: Buffer) => { sent.push(chunk); upstream.res.write(chunk) })
  gzip.write('id: 1\ndata: {"n":1}\n\n')
  await new Promise<void>(resolve => gzip.flush(() => resolve()))
  await until(() => Buffer.concat(received).length >= Buffer.concat(sent).length)
  t.same(Buffer.concat(received), Buffer.concat(sent), 'exactly the bytes Ragie sent')
  t.equal(gunzipSync(Buffer.concat(received), { finishFlush: zlib.Z_SYNC_FLUSH }).toString(), 'id: 1\ndata: {"n":1}\n\n', 'which read as the event')
  const warnings = logs.lines.filter(line => line.includes('compressed event stream'))
  t.equal(warnings.length, 1, 'the operator is told')
  t.match(JSON.parse(warnings[0] ?? '{}'), { level: 40, contentEncoding: 'gzip' })
  gzip.close()
})

t.test('SSE_IDLE_TIMEOUT: an upstream stream silent that long is ended cleanly, and the upstream request closed', async t => {
  const f = await startFixtures(t)
  const scripted = await startScriptedUpstream()
  t.teardown(() => scripted.close())
  const port = await listening(t, { ...f.env, RAGIE_MCP_SERVER_URL: scripted.url, SSE_IDLE_TIMEOUT: '1', SSE_KEEPALIVE: '0' })
  const answer = fetch(`http://127.0.0.1:${port}/${ORG}/mcp`, { headers: { authorization: `Bearer ${f.token()}`, accept: 'text/event-stream' } })
  const upstream = await scripted.next()
  openEventStream(upstream.res)
  upstream.res.write('id: 1\ndata: hello\n\n')
  const res = await answer
  t.equal(await res.text(), 'id: 1\ndata: hello\n\n', 'the body ends cleanly (no error) after the silence')
  await until(() => upstream.closed)
  t.ok(upstream.closed, 'the upstream request was closed')
})

/**
 * A call whose upstream answer sends `headers` and the first bytes of its body, then falls
 * silent, through a gateway with SSE_IDLE_TIMEOUT=1; the gateway's log lines are captured.
 */
async function stalledCall (t: Test, headers: Record<string, string>): Promise<{ res: Response, started: number, check: () => Promise<void> }> {
  const f = await startFixtures(t)
  const scripted = await startScriptedUpstream()
  t.teardown(() => scripted.close())
  const logs = captureLogs()
  const port = await listening(t, { ...f.env, RAGIE_MCP_SERVER_URL: scripted.url, SSE_IDLE_TIMEOUT: '1', SSE_KEEPALIVE: '0', LOG_LEVEL: 'info' }, { logger: { level: 'info', stream: logs.stream } })
  const started = Date.now()
  const answer = fetch(`http://127.0.0.1:${port}/${ORG}/mcp`, {
    method: 'POST', headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json', accept: 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
  })
  const upstream = await scripted.next()
  upstream.res.writeHead(200, headers)
  upstream.res.write('{"jsonrpc":"2.0","id":1,"result":')
  const res = await answer
  // What both cases end with: the request to Ragie closed, and no token logged.
  const check = async (): Promise<void> => {
    await until(() => upstream.closed)
    t.ok(upstream.closed, 'the upstream request was closed')
    t.notOk(logs.lines.join('\n').includes(f.token()), 'no token in the logs')
  }
  return { res, started, check }
}

t.test('a small call answer that stops mid-body (read whole before it is passed on): 504 JSON after SSE_IDLE_TIMEOUT, and the upstream request closed', async t => {
  const { res, started, check } = await stalledCall(t, { 'content-type': 'application/json', 'content-length': '100' })
  t.equal(res.status, 504, 'the answer never began: a timeout')
  const body = await res.text()
  t.equal((JSON.parse(body) as { error: string }).error, 'gateway_timeout')
  t.notMatch(body, /jsonrpc/, 'nothing of the partial answer')
  t.ok(Date.now() - started >= 1000, 'not before SSE_IDLE_TIMEOUT')
  t.ok(Date.now() - started < 10_000, 'cut off, not held')
  await check()
})

t.test('a streamed call answer (of unknown length) that stops mid-body is cut off after SSE_IDLE_TIMEOUT, and the upstream request closed', async t => {
  const { res, check } = await stalledCall(t, { 'content-type': 'application/json' })
  t.equal(res.status, 200, 'the answer had begun')
  const started = Date.now()
  await t.rejects(res.text(), 'the client sees an incomplete answer, not a complete-looking one')
  t.ok(Date.now() - started < 10_000, 'cut off, not held')
  await check()
})

t.test('an event stream answering a call is still ended cleanly by SSE_IDLE_TIMEOUT, not cut off', async t => {
  const f = await startFixtures(t)
  const scripted = await startScriptedUpstream()
  t.teardown(() => scripted.close())
  const port = await listening(t, { ...f.env, RAGIE_MCP_SERVER_URL: scripted.url, SSE_IDLE_TIMEOUT: '1', SSE_KEEPALIVE: '0' })
  const answer = fetch(`http://127.0.0.1:${port}/${ORG}/mcp`, {
    method: 'POST', headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/call"}'
  })
  const upstream = await scripted.next()
  openEventStream(upstream.res)
  upstream.res.write('id: 1\ndata: progress\n\n')
  const res = await answer
  t.equal(await res.text(), 'id: 1\ndata: progress\n\n', 'a clean end of body after the silence')
})

t.test('a slow client is not cut off: a call\'s answer it has not read yet never counts as silence', async t => {
  const f = await startFixtures(t)
  const scripted = await startScriptedUpstream()
  t.teardown(() => scripted.close())
  const port = await listening(t, { ...f.env, RAGIE_MCP_SERVER_URL: scripted.url, SSE_IDLE_TIMEOUT: '1', SSE_KEEPALIVE: '0' })
  const size = 32 * 1024 * 1024
  const req = request({ port, host: '127.0.0.1', method: 'POST', path: `/${ORG}/mcp`, headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json' } })
  const answered = new Promise<IncomingMessage>((resolve, reject) => { req.on('response', resolve); req.on('error', reject) })
  req.end('{}')
  const upstream = await scripted.next()
  upstream.res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(size) })
  upstream.res.end(Buffer.alloc(size, 0x20))
  const res = await answered
  res.pause()
  // Well past the timeout, with every buffer on the way full: the gateway has stopped reading.
  await sleep(3000)
  t.equal((await readAll(res)).length, size, 'the whole answer arrives once the client reads')
})

t.test('a malformed request pipelined behind an event stream closes the connection, and writes nothing into the stream', async t => {
  const f = await startFixtures(t)
  const port = await listening(t, f.env)
  const socket = connect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  let received = ''
  socket.on('data', chunk => { received += chunk.toString('latin1') })
  const closed = new Promise<void>(resolve => socket.once('close', () => resolve()))
  socket.write(`GET ${SSE} HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer ${f.token()}\r\nAccept: text/event-stream\r\n\r\n`)
  await until(() => received.includes('data: {"n":1}'))
  socket.write('GET /\u0001bad HTTP/1.1\r\nHost: gateway.test\r\n\r\n')
  await closed
  t.notOk(received.includes('HTTP/1.1 400'), 'no second status line inside the first answer\'s body')
  t.ok(received.startsWith('HTTP/1.1 200'), 'the stream had begun')
})

t.test('a refused request takes no stream slot, and a finished GET gives its slot back', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, MAX_STREAMS_PER_USER: '1', MEMBERSHIP_NEGATIVE_TTL_SECONDS: '0' })
  const get = () => app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/status/200`, headers: { authorization: `Bearer ${f.token(STRANGER)}` } })
  for (let i = 0; i < 3; i++) t.equal((await get()).statusCode, 403)
  f.workos.addMembership({ userId: STRANGER, organizationId: ORG, status: 'active', role: 'member' })
  for (let i = 0; i < 3; i++) t.equal((await get()).statusCode, 200, 'the slot is free each time')
})
