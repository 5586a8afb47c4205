import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * The benchmark's stand-ins, in their own process so they take no CPU from the proxy measured:
 * a fast upstream (a ~1 KB JSON-RPC result, and event streams stamped with their send time), a
 * JWKS serving the public key the runner signs with (BENCH_JWK), and a WorkOS API that counts its
 * calls and finds every `user_bench_*` an active member.
 */

const RESULT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  result: {
    content: [{ type: 'text', text: 'x'.repeat(900) }],
    isError: false
  }
})

/**
 * A call to a path ending in `/call-stream` is answered with an event stream of one message, as
 * the official MCP SDK's server answers calls by default, in place of JSON of declared length
 * (what the benchmark asks for).
 */
const CALL_STREAM = '/call-stream'

const streams = new Set<ServerResponse>()
const tickers = new Set<ServerResponse>()
const workosCalls = new Map<string, number>()

function now (): number {
  return performance.timeOrigin + performance.now()
}

function upstream (req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://upstream')
  // Every ticker stream gets the same events at the same moment (see /tick): a client reading one
  // directly and one through the gateway can pair them, event by event. Idle streams stay quiet
  // until /broadcast writes to all of them.
  const held = url.pathname.endsWith('/ticker') ? tickers : url.pathname.endsWith('/idle') ? streams : null
  if (held !== null) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    res.write(': open\n\n')
    held.add(res)
    res.on('close', () => held.delete(res))
    return
  }
  req.resume()
  req.on('end', () => {
    if (url.pathname.endsWith(CALL_STREAM)) {
      // As the official MCP SDK's server answers a call by default: an event stream of one message.
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      res.end(`event: message\ndata: ${RESULT}\n\n`)
      return
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(RESULT) })
    res.end(RESULT)
  })
}

function control (req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://control')
  if (url.pathname === '/broadcast') {
    for (const s of streams) s.write('data: ping\n\n')
    res.end(JSON.stringify({ streams: streams.size }))
    return
  }
  if (url.pathname === '/tick') {
    const n = Number(url.searchParams.get('n') ?? 100)
    const interval = Number(url.searchParams.get('interval') ?? 2)
    let seq = 0
    const timer = setInterval(() => {
      const frame = `data: ${++seq} ${now()}\n\n`
      for (const t of tickers) t.write(frame)
      if (seq === n) clearInterval(timer)
    }, interval)
    res.end(JSON.stringify({ tickers: tickers.size }))
    return
  }
  if (url.pathname === '/oauth2/jwks') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ keys: [JSON.parse(process.env.BENCH_JWK ?? '{}')] }))
    return
  }
  if (url.pathname === '/user_management/organization_memberships') {
    const userId = url.searchParams.get('user_id') ?? ''
    const organizationId = url.searchParams.get('organization_id') ?? ''
    const key = `${userId}|${organizationId}`
    workosCalls.set(key, (workosCalls.get(key) ?? 0) + 1)
    const data = userId.startsWith('user_bench_')
      ? [{ object: 'organization_membership', id: `om_${userId}`, user_id: userId, organization_id: organizationId, organization_name: 'Bench', status: 'active', role: { slug: 'member' }, created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' }]
      : []
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ object: 'list', data, list_metadata: { before: null, after: null } }))
    return
  }
  if (url.pathname === '/workos-calls') {
    let max = 0
    for (const n of workosCalls.values()) max = Math.max(max, n)
    res.end(JSON.stringify({ pairs: workosCalls.size, calls: [...workosCalls.values()].reduce((a, b) => a + b, 0), maxPerPair: max }))
    workosCalls.clear()
    return
  }
  res.writeHead(404).end()
}

async function listen (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer({ keepAliveTimeout: 60_000 }, handler)
  server.maxConnections = 20_000
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', 8192, resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const urls = { upstream: await listen(upstream), control: await listen(control) }
process.stdout.write(JSON.stringify(urls) + '\n')
