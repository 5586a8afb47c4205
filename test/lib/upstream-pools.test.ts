import t from 'tap'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { createUpstreamPools } from '../../lib/upstream-pools.ts'
import { listen } from '../fixtures/listen.ts'
import { until } from '../fixtures/until.ts'

const OPTIONS = { connections: null, pipelining: 1, keepAliveTimeout: 30_000, bodyTimeout: 0 }

t.test('event streams (GET) and calls (POST, DELETE) go over separate pools', async t => {
  // The upstream holds every GET open as an event stream and answers everything else at once,
  // noting the client port each request came from.
  const ports: Record<string, number[]> = { GET: [], POST: [], DELETE: [] }
  const upstream = await listen((req, res) => {
    ports[req.method as string].push(req.socket.remotePort as number)
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(': open\n\n')
      return
    }
    req.resume()
    req.on('end', () => res.end('{"ok":true}'))
  })
  const pools = createUpstreamPools(upstream.url, OPTIONS)
  t.teardown(async () => {
    await pools.destroy()
    await upstream.close()
  })

  const streams = await Promise.all([1, 2, 3].map(() => pools.request({ path: '/mcp/p/', method: 'GET' })))
  for (const stream of streams) {
    t.equal(stream.statusCode, 200)
    await once(stream.body, 'data')
  }
  t.equal(pools.events.stats.connected, 3, 'each open stream holds a connection of the events pool')
  t.equal(pools.calls.stats.connected, 0, 'the calls pool has none of them')

  for (const method of ['POST', 'POST', 'DELETE'] as const) {
    const answer = await pools.request({ path: '/mcp/p/', method, body: method === 'POST' ? '{"jsonrpc":"2.0"}' : undefined })
    t.same(await answer.body.json(), { ok: true }, `${method} answered through the calls pool`)
  }
  t.ok(pools.calls.stats.connected >= 1, 'the calls went over connections of the calls pool')
  t.equal(pools.events.stats.connected, 3, 'the events pool still holds only the streams')
  const callPorts = [...ports.POST, ...ports.DELETE]
  t.equal(new Set(ports.GET).size, 3, 'the upstream saw each stream on a connection of its own')
  t.notOk(ports.GET.some(port => callPorts.includes(port)), 'and no call on any of them')

  for (const stream of streams) stream.body.destroy()
})

t.test('close waits for a call in flight, then both pools are closed', async t => {
  let arrived: (answer: () => void) => void = () => {}
  const inFlight = new Promise<() => void>(resolve => { arrived = resolve })
  const upstream = await listen((req, res) => {
    req.resume()
    arrived(() => res.end('late'))
  })
  t.teardown(() => upstream.close())
  const pools = createUpstreamPools(upstream.url, OPTIONS)

  const call = pools.request({ path: '/', method: 'POST', body: 'x' })
  const answer = await inFlight
  const closed = pools.close()
  answer()
  t.equal(await (await call).body.text(), 'late', 'the call in flight was answered')
  await closed
  t.ok(pools.events.closed && pools.calls.closed, 'both pools are closed')
  await t.rejects(pools.request({ path: '/', method: 'GET' }), { code: 'UND_ERR_DESTROYED' }, 'nothing more is sent')
})

t.test('close and destroy take a callback too, as any undici dispatcher does', async t => {
  const held: Array<() => void> = []
  const upstream = await listen((req, res) => {
    req.resume()
    held.push(() => res.end('late'))
  })
  t.teardown(() => upstream.close())

  const closing = createUpstreamPools(upstream.url, OPTIONS)
  const call = closing.request({ path: '/', method: 'POST', body: 'x' })
  await until(() => held.length === 1)
  const order: string[] = []
  const closed = new Promise<unknown[]>(resolve => { closing.close((...args: unknown[]) => { order.push('closed'); resolve(args) }) })
  await sleep(20)
  order.push('answered')
  held[0]()
  t.equal(await (await call).body.text(), 'late', 'the call in flight was answered')
  t.same(await closed, [null, null], 'the callback came as undici\'s does: no error, no data')
  t.same(order, ['answered', 'closed'], 'only after the call in flight had ended')
  t.ok(closing.events.closed && closing.calls.closed, 'both pools are closed')

  const destroying = createUpstreamPools(upstream.url, OPTIONS)
  const stream = destroying.request({ path: '/mcp/p/', method: 'GET' })
  await until(() => held.length === 2)
  const reason = new Error('gateway stopping')
  const destroyed = new Promise<unknown[]>(resolve => { destroying.destroy(reason, (...args: unknown[]) => { resolve(args) }) })
  await t.rejects(stream, reason, 'what was in flight fails with the reason given')
  t.same(await destroyed, [null, null], 'the callback came, with no error')
  t.ok(destroying.events.destroyed && destroying.calls.destroyed, 'both pools are destroyed')
  const again = await new Promise<unknown[]>(resolve => { destroying.close((...args: unknown[]) => { resolve(args) }) })
  t.match(again, [{ code: 'UND_ERR_DESTROYED' }, null], 'closing a destroyed dispatcher gives the callback undici\'s error')
})

t.test('an event stream whose reader leaves closes its connection, and opens no other', async t => {
  // undici 7's Client, once a response it was reading is aborted, opened a new connection for a
  // request that no longer existed and left it idle, with no keep-alive timer to reap it: one
  // stray connection to Ragie for every event stream a client left (nodejs/undici#5845).
  const opened: number[] = []
  const closed: number[] = []
  const upstream = await listen((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(': open\n\n')
  })
  upstream.server.on('connection', socket => {
    opened.push(socket.remotePort as number)
    socket.on('close', () => closed.push(socket.remotePort as number))
  })
  const pools = createUpstreamPools(upstream.url, OPTIONS)
  t.teardown(async () => {
    await pools.destroy()
    await upstream.close()
  })

  const streams = await Promise.all([1, 2].map(() => pools.request({ path: '/mcp/p/', method: 'GET' })))
  for (const stream of streams) await once(stream.body, 'data')
  t.equal(opened.length, 2, 'one connection a stream')
  const streamPorts = [...opened].sort()
  for (const stream of streams) {
    stream.body.on('error', () => {})
    stream.body.destroy()
  }
  await until(() => closed.length >= 2)
  t.same(closed.slice(0, 2).sort(), streamPorts, 'the upstream saw both streams\' connections close')
  // A stray connection is opened at once after the abort; give it ample time to show.
  await sleep(200)
  t.equal(opened.length, 2, 'and no new connection was opened')
  t.equal(pools.events.stats.connected, 0, 'the events pool holds no connection')
})
