import t from 'tap'
import { build, startFixtures, MEMBER, ORG, RAGIE_KEY } from '../helper.ts'
import { listen } from '../fixtures/listen.ts'
import { eventually } from '../fixtures/redis.ts'

interface ExportedSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  attributes: Array<{ key: string, value: Record<string, unknown> }>
}

/** A local OTLP/HTTP collector: keeps every span exported to /v1/traces (JSON), and the raw bodies. */
async function startCollector (t: { teardown: (fn: () => unknown) => void }) {
  const spans: ExportedSpan[] = []
  const bodies: string[] = []
  const server = await listen((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      if (req.url === '/v1/traces') {
        bodies.push(body)
        const parsed = JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: ExportedSpan[] }> }> }
        for (const rs of parsed.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans)
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  t.teardown(() => server.close())
  return { url: server.url, spans, bodies }
}

t.test('with OTEL_EXPORTER_OTLP_ENDPOINT, a request is traced with spans for verification, membership and the upstream call', async t => {
  const f = await startFixtures(t)
  const collector = await startCollector(t)
  const app = await build(t, { ...f.env, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url })
  const token = f.token()
  const res = await app.inject({ method: 'POST', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: '{}' })
  t.equal(res.statusCode, 200)
  const names = ['request', 'gateway.verify_token', 'gateway.membership', 'gateway.upstream']
  t.ok(await eventually(() => names.every(n => collector.spans.some(s => s.name === n)), 5000), `exported: ${names.join(', ')}`)

  const request = collector.spans.find(s => s.name === 'request') as ExportedSpan
  const byId = new Map(collector.spans.map(s => [s.spanId, s]))
  for (const name of names.slice(1)) {
    const span = collector.spans.find(s => s.name === name) as ExportedSpan
    t.equal(span.traceId, request.traceId, `${name} is in the request's trace`)
    let ancestor: ExportedSpan | undefined = span
    while (ancestor !== undefined && ancestor.spanId !== request.spanId) ancestor = ancestor.parentSpanId === undefined ? undefined : byId.get(ancestor.parentSpanId)
    t.ok(ancestor, `${name} descends from the request span`)
  }
  const upstream = collector.spans.find(s => s.name === 'gateway.upstream') as ExportedSpan
  t.match(upstream.attributes.find(a => a.key === 'http.response.status_code'), { value: { intValue: 200 } })

  const exported = collector.bodies.join('\n')
  for (const secret of [token, RAGIE_KEY, MEMBER]) t.notOk(exported.includes(secret), 'no token, key or user id in the spans')
})

t.test('a token in the query string never reaches the collector: the request span has the path alone', async t => {
  const f = await startFixtures(t)
  const collector = await startCollector(t)
  const app = await build(t, { ...f.env, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url })
  const token = f.token()
  const res = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/echo?access_token=${token}&a=1` })
  t.equal(res.statusCode, 401)
  t.ok(await eventually(() => collector.spans.some(s => s.name === 'request'), 5000))
  const request = collector.spans.find(s => s.name === 'request') as ExportedSpan
  t.same(request.attributes.find(a => a.key === 'url.path')?.value, { stringValue: `/${ORG}/mcp/raw/echo` })
  t.notOk(collector.bodies.join('\n').includes(token.split('.')[2]), 'no part of the token was exported')
})

t.test('an incoming traceparent is continued', async t => {
  const f = await startFixtures(t)
  const collector = await startCollector(t)
  const app = await build(t, { ...f.env, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url })
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token()}`, traceparent: `00-${traceId}-00f067aa0ba902b7-01` } })
  t.ok(await eventually(() => collector.spans.some(s => s.name === 'gateway.upstream'), 5000))
  t.equal(collector.spans.find(s => s.name === 'request')?.traceId, traceId)
})

t.test('a failed step is a failed span', async t => {
  const f = await startFixtures(t)
  f.workos.mode = 'down'
  const collector = await startCollector(t)
  const app = await build(t, { ...f.env, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url })
  const res = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token()}` } })
  t.equal(res.statusCode, 503)
  t.ok(await eventually(() => collector.spans.some(s => s.name === 'gateway.membership'), 5000))
  t.match(collector.spans.find(s => s.name === 'gateway.membership'), { status: { code: 2, message: 'GW_MEMBERSHIP_UNAVAILABLE' } })
})

t.test('a collector that never answers does not hold the close: the last export is given 2 s', async t => {
  const f = await startFixtures(t)
  const held: Array<{ destroy: () => void }> = []
  // Reads what it is sent and never answers.
  const silent = await listen((req) => { held.push(req.socket) })
  t.teardown(() => { for (const s of held) s.destroy(); return silent.close() })
  const app = await build(t, { ...f.env, OTEL_EXPORTER_OTLP_ENDPOINT: silent.url })
  const res = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token(MEMBER)}` } })
  t.equal(res.statusCode, 200)
  const started = Date.now()
  await app.close()
  const took = Date.now() - started
  t.ok(took < 4000, `closed in ${took} ms, not after the exporter's own 10 s`)
})
