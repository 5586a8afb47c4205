import t from 'tap'
import { writeFileSync } from 'node:fs'
import { createServer as createTcpServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import { startFixtures, ORG, MEMBER } from './helper.ts'
import type { Fixtures, TestContext } from './helper.ts'
import type { GatewayProcess } from './fixtures/process.ts'
import { startScriptedUpstream } from './fixtures/scripted-upstream.ts'
import { serverEnv, startServer, untilLogged } from './fixtures/server.ts'

// server.ts and its signals: SIGTERM and SIGINT drain, SIGHUP reloads, at any point of its life
// (starting, serving, closing). Each test runs a process of its own.

t.test('SIGTERM: in-flight requests finish, open SSE streams end cleanly after the grace period, exit 0', async t => {
  const f = await startFixtures(t)
  const proc = startServer(t, [], serverEnv(f, { SHUTDOWN_GRACE_SECONDS: '1' }))
  const port = await proc.listening
  const base = `http://127.0.0.1:${port}/${ORG}/mcp`
  const auth = { authorization: `Bearer ${f.token(MEMBER)}` }

  const stream = await fetch(`${base}/raw/sse`, { headers: { ...auth, accept: 'text/event-stream' } })
  t.equal(stream.status, 200)
  const reader = (stream.body as ReadableStream<Uint8Array>).getReader()
  const first = await reader.read()
  t.match(Buffer.from(first.value ?? []).toString(), /data: \{"n":1\}/)

  const inFlight = fetch(`${base}/raw/slow/300`, { headers: auth })
  await f.upstream.waitFor(r => r.url.includes('/raw/slow/'))
  proc.child.kill('SIGTERM')

  const slow = await inFlight
  t.equal(slow.status, 200, 'the request in flight at SIGTERM was answered')
  t.same(await slow.json(), { slow: true })

  // Drain: the stream keeps flowing during the grace period, then ends without an error (a read
  // that rejects fails the test; `done` is a clean end of body).
  let events = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    events += (Buffer.from(value).toString().match(/^data: /gm) ?? []).length
  }
  t.ok(events > 1, `the stream went on during the grace period (${events} more events), then ended cleanly`)
  t.same(await proc.exited, { code: 0, signal: null })
})

t.test('SIGTERM while Ragie is still working on a call: the call is cut after the grace period, and the exit is still 0', async t => {
  // Its client is cut once the grace period is over; the call upstream must not hold the close
  // past the deadline (server.ts exits 1 when the close is stuck).
  const f = await startFixtures(t)
  const scripted = await startScriptedUpstream()
  t.teardown(() => scripted.close())
  const proc = startServer(t, [], serverEnv(f, { SHUTDOWN_GRACE_SECONDS: '1', RAGIE_MCP_SERVER_URL: scripted.url }))
  const port = await proc.listening
  const answer = fetch(`http://127.0.0.1:${port}/${ORG}/mcp`, {
    method: 'POST', headers: { authorization: `Bearer ${f.token(MEMBER)}`, 'content-type': 'application/json' }, body: '{}'
  })
  answer.catch(() => {})
  const upstream = await scripted.next()
  const started = Date.now()
  proc.child.kill('SIGTERM')
  t.same(await proc.exited, { code: 0, signal: null }, 'exit 0')
  t.ok(Date.now() - started < 5000, 'well before the deadline of the grace period + 5 s')
  t.ok(upstream.closed, 'the call upstream was closed')
})

t.test('SIGHUP reloads the mapping file of a running server.ts', async t => {
  const f = await startFixtures(t)
  const dir = t.testdir({ 'mapping.json': JSON.stringify({ [ORG]: 'first' }) })
  const proc = startServer(t, ['-m', join(dir, 'mapping.json')], serverEnv(f))
  const port = await proc.listening
  const url = `http://127.0.0.1:${port}/${ORG}/mcp/raw/echo`
  const auth = { authorization: `Bearer ${f.token(MEMBER)}` }
  t.equal((await fetch(url, { headers: auth })).status, 200)
  writeFileSync(join(dir, 'mapping.json'), JSON.stringify({ [ORG]: 'second' }))
  proc.child.kill('SIGHUP')
  await untilLogged(proc, /mapping file reloaded/)
  t.equal((await fetch(url, { headers: auth })).status, 200, 'the process is still serving')
  t.same(f.upstream.requests.map(r => r.partition), ['first', 'second'])
  proc.child.kill('SIGTERM')
  t.equal((await proc.exited).code, 0)
})

t.test('SIGHUP without a mapping file neither ends server.ts nor stops it serving', async t => {
  const f = await startFixtures(t)
  const proc = startServer(t, [], serverEnv(f))
  const port = await proc.listening
  proc.child.kill('SIGHUP')
  await untilLogged(proc, /no mapping file to reload/)
  const res = await fetch(`http://127.0.0.1:${port}/${ORG}/mcp/raw/echo`, { headers: { authorization: `Bearer ${f.token(MEMBER)}` } })
  t.equal(res.status, 200, 'still serving')
  proc.child.kill('SIGTERM')
  t.same(await proc.exited, { code: 0, signal: null }, 'and it ends only by its own shutdown')
})

/**
 * server.ts in the middle of its start, sent `signal` there: a "Redis" that accepts and never
 * answers holds the start (plugins/redis.ts waits for it), and its first connection says the
 * process is inside that start, which is when the signal goes.
 */
async function signalledWhileStarting (t: TestContext, f: Fixtures, signal: NodeJS.Signals): Promise<{ proc: GatewayProcess, signalled: () => boolean }> {
  const sockets: Socket[] = []
  const started: { proc?: GatewayProcess } = {}
  const silent = createTcpServer(socket => {
    sockets.push(socket)
    if (sockets.length === 1) started.proc?.child.kill(signal)
  })
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); silent.close() })
  const redisPort = (silent.address() as AddressInfo).port
  const proc = startServer(t, [], serverEnv(f, { REDIS_URL: `redis://127.0.0.1:${redisPort}` }))
  started.proc = proc
  return { proc, signalled: () => sockets.length > 0 }
}

t.test('SIGHUP while server.ts is still starting neither ends it nor stops the start', async t => {
  const f = await startFixtures(t)
  const { proc, signalled } = await signalledWhileStarting(t, f, 'SIGHUP')
  const port = await proc.listening
  t.ok(signalled(), 'the signal came while the start waited on Redis')
  t.equal(proc.child.exitCode, null, 'the process lives on')
  const res = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/${ORG}/mcp`)
  t.equal(res.status, 200, 'and serves')
  proc.child.kill('SIGTERM')
  t.same(await proc.exited, { code: 0, signal: null }, 'it ends only by its own shutdown')
})

t.test('SIGTERM while server.ts is still starting closes it and exits 0', async t => {
  const f = await startFixtures(t)
  const { proc, signalled } = await signalledWhileStarting(t, f, 'SIGTERM')
  t.same(await proc.exited, { code: 0, signal: null }, 'exit 0, not killed by the signal')
  t.ok(signalled(), 'the signal came while the start waited on Redis')
  t.same(proc.stderr, [], 'nothing on stderr: no "could not start"')
})
