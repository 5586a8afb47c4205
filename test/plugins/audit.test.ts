import t from 'tap'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import gateway, { options } from '../../app.ts'
import { captureLogs, startFixtures, MEMBER, ORG, RAGIE_KEY, STRANGER, WORKOS_KEY } from '../helper.ts'
import type { TestContext } from '../helper.ts'
import { until } from '../fixtures/until.ts'

async function buildLogged (t: TestContext, env: Record<string, string>, logs: ReturnType<typeof captureLogs>): Promise<FastifyInstance> {
  // The app's own server options: Fastify's request logging off, so each line here is the gateway's.
  const app = Fastify({ ...options, logger: { level: 'info', stream: logs.stream } })
  t.teardown(() => app.close())
  await app.register(gateway, { env })
  await app.ready()
  return app
}

function completed (lines: string[]): Array<Record<string, unknown>> {
  return lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.msg === 'request completed')
}

t.test('one audit line per MCP request: time, request id, user, org, partition, JSON-RPC method and tool, status, latency', async t => {
  const f = await startFixtures(t)
  const logs = captureLogs()
  const app = await buildLogged(t, f.env, logs)
  const token = f.token()
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } })
  const res = await app.inject({ method: 'POST', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: body })
  t.equal(res.statusCode, 200)
  t.equal(f.upstream.requests[0].body, body, 'the body reached upstream unchanged')

  const lines = completed(logs.lines)
  t.equal(lines.length, 1)
  t.match(lines[0], {
    level: 30,
    time: Number,
    reqId: String,
    user: MEMBER,
    org: ORG,
    partition: ORG.toLowerCase(),
    rpcMethod: 'tools/call',
    tool: 'echo',
    status: 200,
    ms: Number
  })
  const all = logs.lines.join('\n')
  for (const secret of [token, token.split('.')[2], RAGIE_KEY, WORKOS_KEY]) t.notOk(all.includes(secret), 'no token or key in the logs')
})

t.test('a body larger than the peek streams through whole; the method is still read from its first bytes', async t => {
  const f = await startFixtures(t)
  const logs = captureLogs()
  const app = await buildLogged(t, f.env, logs)
  const body = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'retrieve', arguments: { query: 'x'.repeat(1024 * 1024) } } })
  const res = await app.inject({ method: 'POST', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json' }, payload: body })
  t.equal(res.statusCode, 200)
  t.equal(res.json().bytes, body.length, 'every byte reached upstream')
  t.match(completed(logs.lines)[0], { rpcMethod: 'tools/call', tool: 'retrieve' })
})

t.test('a refused request gets its one line too, with no method (its body was never read)', async t => {
  const f = await startFixtures(t)
  const logs = captureLogs()
  const app = await buildLogged(t, f.env, logs)
  const res = await app.inject({ method: 'POST', url: `/${ORG}/mcp/raw/echo`, headers: { 'content-type': 'application/json' }, payload: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' })
  t.equal(res.statusCode, 401)
  const lines = completed(logs.lines)
  t.equal(lines.length, 1)
  t.match(lines[0], { status: 401, org: ORG })
  t.notOk('rpcMethod' in lines[0])
})

t.test('a request refused once its partition was known (not a member) is logged without the partition', async t => {
  const f = await startFixtures(t)
  const logs = captureLogs()
  const app = await buildLogged(t, f.env, logs)
  const res = await app.inject({ method: 'POST', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token(STRANGER)}`, 'content-type': 'application/json' }, payload: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' })
  t.equal(res.statusCode, 403)
  const lines = completed(logs.lines)
  t.equal(lines.length, 1)
  t.match(lines[0], { status: 403, org: ORG, user: STRANGER })
  t.notOk('partition' in lines[0], 'a refusal does not read as access to a partition')
  t.equal(f.upstream.requests.length, 0)
})

t.test('an event stream the client leaves gets its one line, when it leaves', async t => {
  // How every MCP client ends its GET stream; Fastify's onResponse never runs for it.
  const f = await startFixtures(t)
  const logs = captureLogs()
  const app = await buildLogged(t, f.env, logs)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const controller = new AbortController()
  const res = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/${ORG}/mcp/raw/sse`, {
    headers: { authorization: `Bearer ${f.token()}`, accept: 'text/event-stream' },
    signal: controller.signal
  })
  t.equal(res.status, 200)
  await sleep(100)
  t.equal(completed(logs.lines).length, 0, 'no line while the stream is open')
  controller.abort()
  await until(() => completed(logs.lines).length > 0)
  await sleep(100)
  const lines = completed(logs.lines)
  t.equal(lines.length, 1, 'one line')
  t.match(lines[0], { method: 'GET', route: '/:org/mcp/*', org: ORG, user: MEMBER, partition: ORG.toLowerCase(), status: 200, ms: Number })
  t.ok((lines[0].ms as number) >= 100, 'its latency runs until the client left')
})
