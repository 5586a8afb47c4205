import t from 'tap'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import gateway from '../../app.ts'
import { build, startFixtures, MEMBER, ORG, STRANGER } from '../helper.ts'
import type { Fixtures } from '../helper.ts'
import { eventually } from '../fixtures/redis.ts'
import { freePort } from '../fixtures/ports.ts'

/** A gateway whose metrics listen on a port of their own, and that port's base URL. */
async function withMetrics (t: Parameters<typeof build>[0], env: Record<string, string>): Promise<{ app: FastifyInstance, url: string }> {
  const port = await freePort()
  const app = await build(t, { ...env, METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' })
  return { app, url: `http://127.0.0.1:${port}` }
}

async function scrape (url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`)
  if (res.status !== 200) throw new Error(`metrics answered ${res.status}`)
  return res.text()
}

/** The value of one sample, e.g. `mcp_gateway_requests_total{outcome="ok"}`; 0 when absent. */
function sample (text: string, name: string): number {
  const line = text.split('\n').find(l => l.startsWith(`${name} `))
  return line === undefined ? 0 : Number(line.slice(name.length + 1))
}

function call (app: FastifyInstance, f: Fixtures, headers: Record<string, string>, url = `/${ORG}/mcp/raw/echo`): Promise<number> {
  return app.inject({ method: 'GET', url, headers }).then(r => r.statusCode)
}

t.test('without METRICS_PORT nothing listens', async t => {
  const f = await startFixtures(t)
  const port = await freePort()
  await build(t, { ...f.env, METRICS_HOST: '127.0.0.1' })
  await t.rejects(fetch(`http://127.0.0.1:${port}/metrics`))
})

t.test('/metrics on its own port: the issue\'s metrics and the process defaults, moving with requests', async t => {
  const f = await startFixtures(t)
  const { app, url } = await withMetrics(t, f.env)

  const before = await scrape(url)
  for (const name of ['mcp_gateway_requests_total', 'mcp_gateway_request_duration_seconds', 'mcp_gateway_membership_lookups_total', 'mcp_gateway_jwks_fetches_total', 'mcp_gateway_open_streams', 'mcp_gateway_upstream_responses_total', 'process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds']) {
    t.match(before, new RegExp(`^# TYPE ${name} `, 'm'), name)
  }
  t.equal(sample(before, 'mcp_gateway_requests_total{outcome="ok"}'), 0)

  const member = { authorization: `Bearer ${f.token()}` }
  t.equal(await call(app, f, member), 200)
  t.equal(await call(app, f, member), 200)
  t.equal(await call(app, f, {}), 401)
  t.equal(await call(app, f, { authorization: 'Bearer not.a.jwt' }), 401)
  t.equal(await call(app, f, { authorization: `Bearer ${f.token(STRANGER)}` }), 403)
  t.equal(await call(app, f, member, '/org_01X%2e/mcp'), 404)
  t.equal(await call(app, f, member, `/${ORG}/mcp/raw/status/503`), 503)
  f.workos.mode = 'down'
  t.equal(await call(app, f, { authorization: `Bearer ${f.token('user_01UNSEEN000000000000000000')}` }), 503)

  const after = await scrape(url)
  t.equal(sample(after, 'mcp_gateway_requests_total{outcome="ok"}'), 2)
  t.equal(sample(after, 'mcp_gateway_requests_total{outcome="unauthenticated"}'), 1)
  t.equal(sample(after, 'mcp_gateway_requests_total{outcome="invalid_token"}'), 1)
  t.equal(sample(after, 'mcp_gateway_requests_total{outcome="forbidden"}'), 1)
  t.equal(sample(after, 'mcp_gateway_requests_total{outcome="not_found"}'), 1)
  t.equal(sample(after, 'mcp_gateway_requests_total{outcome="upstream_error"}'), 1, 'Ragie\'s own 503')
  t.equal(sample(after, 'mcp_gateway_requests_total{outcome="unavailable"}'), 1, 'WorkOS down')
  t.equal(sample(after, 'mcp_gateway_request_duration_seconds_count'), 8)
  t.equal(sample(after, 'mcp_gateway_upstream_responses_total{status_class="2xx"}'), 2)
  t.equal(sample(after, 'mcp_gateway_upstream_responses_total{status_class="5xx"}'), 1)
  t.equal(sample(after, 'mcp_gateway_membership_lookups_total{result="miss"}'), 2, 'the member and the stranger')
  t.equal(sample(after, 'mcp_gateway_membership_lookups_total{result="hit"}'), 2)
  t.equal(sample(after, 'mcp_gateway_membership_lookups_total{result="error"}'), 1)
  t.ok(sample(after, 'mcp_gateway_jwks_fetches_total') >= 1)
  t.notMatch(after, new RegExp(`${MEMBER}|${STRANGER}|${ORG}|${ORG.toLowerCase()}|user_01|org_01`), 'no user or organization id appears')

  const other = await fetch(`${url}/other`)
  t.equal(other.status, 404)
  const pub = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(pub.statusCode, 404, 'the public port does not serve metrics')
})

t.test('mcp_gateway_open_streams counts event streams while they are open', async t => {
  const f = await startFixtures(t)
  const { app, url } = await withMetrics(t, f.env)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address() as { port: number }
  const controller = new AbortController()
  const res = await fetch(`http://127.0.0.1:${address.port}/${ORG}/mcp/raw/sse`, { headers: { authorization: `Bearer ${f.token()}` }, signal: controller.signal })
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  await reader.read()
  t.equal(sample(await scrape(url), 'mcp_gateway_open_streams'), 1)
  controller.abort()
  await reader.read().catch(() => {})
  t.ok(await eventually(async () => sample(await scrape(url), 'mcp_gateway_open_streams') === 0, 2000), 'and 0 once the client left')
  t.equal(sample(await scrape(url), 'mcp_gateway_requests_total{outcome="ok"}'), 1, 'a stream the client left counts as answered')
})

t.test('a client that leaves before any answer counts as client_closed', async t => {
  const f = await startFixtures(t)
  f.workos.delayMs = 300
  const { app, url } = await withMetrics(t, f.env)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address() as { port: number }
  const controller = new AbortController()
  const left = fetch(`http://127.0.0.1:${address.port}/${ORG}/mcp/raw/echo`, { headers: { authorization: `Bearer ${f.token()}` }, signal: controller.signal }).catch(() => 'aborted')
  t.ok(await eventually(async () => f.workos.calls.length > 0, 2000), 'the membership is being looked up')
  controller.abort()
  t.equal(await left, 'aborted')
  t.ok(await eventually(async () => sample(await scrape(url), 'mcp_gateway_requests_total{outcome="client_closed"}') === 1, 2000), 'counted once')
  // Once WorkOS has answered, a call of the same user answered from the cache shows the gateway
  // is done with the one whose client left.
  t.ok(await eventually(async () => f.workos.answered === 1, 2000), 'WorkOS answered')
  t.equal((await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/echo?barrier`, headers: { authorization: `Bearer ${f.token()}` } })).statusCode, 200)
  t.equal(f.workos.calls.length, 1, 'the barrier was answered from the cache')
  const text = await scrape(url)
  t.equal(sample(text, 'mcp_gateway_requests_total{outcome="client_closed"}'), 1, 'and only once, after WorkOS answered')
  t.equal(sample(text, 'mcp_gateway_requests_total{outcome="ok"}'), 1, 'the barrier alone')
  t.same(f.upstream.requests.map(r => r.url.endsWith('?barrier')), [true], 'nothing but the barrier reached Ragie')
})

t.test('closing the app closes the metrics listener', async t => {
  const f = await startFixtures(t)
  const { app, url } = await withMetrics(t, f.env)
  await scrape(url)
  await app.close()
  await t.rejects(fetch(`${url}/metrics`))
})

t.test('two apps in one process keep their own counts, and the process metrics outlive the first', async t => {
  const f = await startFixtures(t)
  const first = await withMetrics(t, f.env)
  const second = await withMetrics(t, f.env)
  t.equal(await call(first.app, f, { authorization: `Bearer ${f.token(MEMBER)}` }), 200)
  t.equal(sample(await scrape(first.url), 'mcp_gateway_requests_total{outcome="ok"}'), 1)
  await first.app.close()
  const text = await scrape(second.url)
  t.equal(sample(text, 'mcp_gateway_requests_total{outcome="ok"}'), 0, 'the first app\'s request is not the second\'s')
  t.ok(sample(text, 'process_cpu_user_seconds_total') > 0, 'the process metrics still read after the first app closed')
  t.ok(text.includes('nodejs_gc_duration_seconds'), 'the GC histogram too')
})

t.test('request durations are measured in a host app without a logger too', async t => {
  // Fastify keeps no start time for its replies in an app without a logger: reply.elapsedTime is 0.
  const f = await startFixtures(t)
  const port = await freePort()
  const host = Fastify()
  t.teardown(() => host.close())
  await host.register(gateway, { env: { ...f.env, METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' } })
  await host.ready()
  const res = await host.inject({ method: 'GET', url: `/${ORG}/mcp/raw/slow/120`, headers: { authorization: `Bearer ${f.token(MEMBER)}` } })
  t.equal(res.statusCode, 200)
  const text = await scrape(`http://127.0.0.1:${port}`)
  t.equal(sample(text, 'mcp_gateway_request_duration_seconds_count'), 1)
  t.ok(sample(text, 'mcp_gateway_request_duration_seconds_sum') >= 0.1, 'the upstream\'s 120 ms are in the duration')
})
