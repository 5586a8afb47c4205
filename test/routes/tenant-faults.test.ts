import t from 'tap'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { build, captureLogs, startFixtures, MEMBER, ORG, STRANGER } from '../helper.ts'
import type { TestContext } from '../helper.ts'
import { openEventStream, startScriptedUpstream } from '../fixtures/scripted-upstream.ts'
import type { ScriptedRequest } from '../fixtures/scripted-upstream.ts'
import { WHOLE_ANSWER_BYTES } from '../../lib/upstream-request.ts'

// Faults not covered elsewhere: JWKS faults are in tenant-jwks.test.ts and health.test.ts, WorkOS
// down/429/hanging in tenant-membership.test.ts, upstream refused and too slow (502/504) and a
// client leaving a GET stream in tenant-headers.test.ts, SIGTERM in server.test.ts and
// shutdown-load.test.ts.

async function listening (t: TestContext, env: Record<string, string>): Promise<string> {
  const app = await build(t, env)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

/**
 * A gateway in front of a scripted upstream, and one request from a member sent through it: the
 * client's answer to come, and the request as the upstream holds it, to answer as the test likes.
 */
async function scriptedCall (t: TestContext, init: (token: string) => RequestInit): Promise<{ answer: Promise<Response>, upstream: ScriptedRequest }> {
  const f = await startFixtures(t)
  const scripted = await startScriptedUpstream()
  t.teardown(() => scripted.close())
  const base = await listening(t, { ...f.env, RAGIE_MCP_SERVER_URL: scripted.url })
  const answer = fetch(`${base}/${ORG}/mcp`, init(f.token()))
  return { answer, upstream: await scripted.next() }
}

const POST_JSON = (token: string): RequestInit => ({ method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' })

/** Polls `test` every 10 ms for at most `ms`; true if it came to hold. */
async function within (ms: number, test: () => boolean): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!test()) {
    if (Date.now() > deadline) return false
    await sleep(10)
  }
  return true
}

t.test('upstream reset in the middle of an event stream: the client gets the events so far and a clean end', async t => {
  const { answer, upstream } = await scriptedCall(t, token => ({ headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }))
  openEventStream(upstream.res)
  upstream.res.write('id: 1\ndata: one\n\nid: 2\ndata: tw')
  const res = await answer
  t.equal(res.status, 200)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const first = await reader.read()
  t.match(Buffer.from(first.value ?? []).toString(), /data: one/)
  upstream.res.socket?.destroy()

  // A clean end: done, not a rejected read (which an SSE client would report as a network error).
  let text = Buffer.from(first.value ?? []).toString()
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    text += Buffer.from(value).toString()
  }
  t.equal(text, 'id: 1\ndata: one\n\nid: 2\ndata: tw', 'what upstream sent, the partial event left for the client to drop')
})

t.test('upstream reset before answering: 502 JSON', async t => {
  const { answer, upstream } = await scriptedCall(t, POST_JSON)
  upstream.req.socket.destroy()
  const res = await answer
  t.equal(res.status, 502)
  t.equal((await res.json() as { error: string }).error, 'bad_gateway')
})

t.test('upstream reset in the middle of a small JSON answer (read whole before it is passed on): 502 JSON, never a short 200 body', async t => {
  const { answer, upstream } = await scriptedCall(t, POST_JSON)
  upstream.res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' })
  upstream.res.write('{"jsonrpc":"2.0","res')
  await sleep(50)
  upstream.res.socket?.destroy()
  const res = await answer
  t.equal(res.status, 502)
  const body = await res.text()
  t.equal((JSON.parse(body) as { error: string }).error, 'bad_gateway')
  t.notMatch(body, /jsonrpc/, 'nothing of the partial answer')
})

// Streamed as it comes: an answer of unknown length, or of more than WHOLE_ANSWER_BYTES.
for (const [kind, length] of [['of unknown length', undefined], ['larger than is read whole', String(WHOLE_ANSWER_BYTES + 1)]] as const) {
  t.test(`upstream reset in the middle of a JSON answer ${kind}: the client connection is cut, never a short 200 body taken as whole`, async t => {
    const { answer, upstream } = await scriptedCall(t, POST_JSON)
    upstream.res.writeHead(200, length === undefined ? { 'content-type': 'application/json' } : { 'content-type': 'application/json', 'content-length': length })
    upstream.res.write('{"jsonrpc":"2.0","res')
    const res = await answer
    t.equal(res.status, 200)
    upstream.res.socket?.destroy()
    await t.rejects(res.text(), 'reading the body fails instead of ending early')
  })
}

t.test('client abort in the middle of a tool call\'s event stream: the upstream request is closed within a second', async t => {
  const f = await startFixtures(t)
  const base = await listening(t, f.env)
  const headers = { authorization: `Bearer ${f.token()}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': '2025-06-18' }
  const init = await fetch(`${base}/${ORG}/mcp`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'abort-test', version: '1' } } })
  })
  t.equal(init.status, 200)
  await init.text()
  const session = init.headers.get('mcp-session-id') as string
  const release = f.upstream.holdProgress()
  t.teardown(release)

  const controller = new AbortController()
  const res = await fetch(`${base}/${ORG}/mcp`, {
    method: 'POST',
    headers: { ...headers, 'mcp-session-id': session },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'progress', arguments: {}, _meta: { progressToken: 'p1' } } }),
    signal: controller.signal
  })
  t.equal(res.status, 200)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const first = await reader.read()
  t.match(Buffer.from(first.value ?? []).toString(), /notifications\/progress/, 'the tool is running and streaming')
  const call = f.upstream.requests.find(r => r.method === 'POST' && r.headers['mcp-session-id'] !== undefined)
  t.ok(call, 'the tool call reached upstream')
  t.equal(call?.aborted, false)

  controller.abort()
  t.ok(await within(1000, () => call?.aborted === true), 'the upstream request was closed within a second of the client leaving')
})

t.test('client abort while Ragie is still working on a call (no answer yet): the upstream request is closed within a second', async t => {
  // The whole body was sent, so the request itself looks complete: only the client's connection
  // closing tells that no one will read the answer.
  const f = await startFixtures(t)
  const scripted = await startScriptedUpstream()
  t.teardown(() => scripted.close())
  const logs = captureLogs()
  const app = await build(t, { ...f.env, RAGIE_MCP_SERVER_URL: scripted.url }, { logger: { level: 'info', stream: logs.stream } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const controller = new AbortController()
  const answer = fetch(`${base}/${ORG}/mcp`, { ...POST_JSON(f.token()), signal: controller.signal })
  answer.catch(() => {})
  const upstream = await scripted.next()
  t.equal(upstream.closed, false, 'the call reached Ragie and waits there')
  controller.abort()
  t.ok(await within(1000, () => upstream.closed), 'the upstream request was closed within a second of the client leaving')
  t.ok(await within(1000, () => logs.lines.some(l => /"status":499/.test(l))), 'the request line says the client left (499)')
  t.notOk(logs.lines.some(l => /upstream request failed/.test(l)), 'and no upstream failure is reported: there was none')
})

t.test('WorkOS hanging or rate-limiting: cached members go on at once, an uncached user gets 503 fast', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, WORKOS_TIMEOUT_MS: '300' })
  const call = (sub: string) => app.inject({ method: 'POST', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token(sub)}`, 'content-type': 'application/json' }, payload: '{}' })
  t.equal((await call(MEMBER)).statusCode, 200)
  for (const mode of ['hang', 'rate-limited'] as const) {
    f.workos.mode = mode
    const calls = f.workos.calls.length
    const member = await call(MEMBER)
    t.equal(member.statusCode, 200, `${mode}: the cached member is served`)
    t.equal(f.workos.calls.length, calls, `${mode}: without asking WorkOS`)
    const stranger = await call(STRANGER)
    t.equal(stranger.statusCode, 503, `${mode}: an uncached user fails closed`)
    t.match(stranger.headers['retry-after'], /^[1-9][0-9]*$/)
  }
  t.equal(f.upstream.requests.length, 3, 'only the member\'s requests reached upstream')
})
