import t from 'tap'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { abortDispatch, createUpstreamPools } from '../../lib/upstream-pools.ts'
import type { DispatchOwner } from '../../lib/upstream-pools.ts'
import { WHOLE_ANSWER_BYTES, readWhole } from '../../lib/upstream-request.ts'
import type { AnswerBody, UpstreamAnswer } from '../../lib/upstream-request.ts'
import { listen } from '../fixtures/listen.ts'
import { until } from '../fixtures/until.ts'
import type { TestContext } from '../helper.ts'

const OPTIONS = { connections: null, pipelining: 1, keepAliveTimeout: 30_000, bodyTimeout: 0 }

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/** An upstream answering with `handler`, the pools to it, and what it has seen. */
async function setup (t: TestContext, handler: Handler): Promise<{ pools: ReturnType<typeof createUpstreamPools>, closed: IncomingMessage[], seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = []
  const closed: IncomingMessage[] = []
  const upstream = await listen((req, res) => {
    seen.push(req)
    res.on('close', () => closed.push(req))
    handler(req, res)
  })
  const pools = createUpstreamPools(upstream.url, OPTIONS)
  t.teardown(async () => {
    await pools.destroy()
    await upstream.close()
  })
  return { pools, closed, seen }
}

/** `forward` as a promise; `owner` is recorded as its request's owner, for abortDispatch. */
function forward (pools: ReturnType<typeof createUpstreamPools>, options: { path: string, method: string, body?: unknown }, owner?: DispatchOwner): Promise<UpstreamAnswer> {
  return new Promise((resolve, reject) => {
    if (owner !== undefined) pools.next = owner
    pools.forward(options as Parameters<typeof pools.forward>[0], (err, answer) => { err === null ? resolve(answer as UpstreamAnswer) : reject(err) })
  })
}

async function text (body: Buffer | Readable): Promise<string> {
  if (Buffer.isBuffer(body)) return body.toString()
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString()
}

t.test('readWhole: only a final answer of declared length, small enough, and not an event stream', async t => {
  const json = { 'content-type': 'application/json' }
  t.ok(readWhole('POST', { ...json, 'content-length': '0' }), 'an empty answer')
  t.ok(readWhole('POST', { ...json, 'content-length': String(WHOLE_ANSWER_BYTES) }), 'exactly the limit')
  t.notOk(readWhole('POST', { ...json, 'content-length': String(WHOLE_ANSWER_BYTES + 1) }), 'one byte over')
  t.notOk(readWhole('POST', json), 'no declared length (chunked)')
  t.notOk(readWhole('POST', { ...json, 'content-length': 'abc' }), 'a length that is no number')
  t.notOk(readWhole('POST', { ...json, 'content-length': '99999999999' }), 'a huge length')
  t.notOk(readWhole('GET', { 'content-type': 'text/event-stream; charset=utf-8', 'content-length': '10' }), 'an event stream, whatever its length')
  t.notOk(readWhole('HEAD', { ...json, 'content-length': '10' }), 'HEAD: the length is not of a body that comes')
  t.ok(readWhole('DELETE', { 'content-length': '5' }), 'no content type')
})

t.test('a small answer of declared length comes whole, as one Buffer, even sent in several writes', async t => {
  const { pools } = await setup(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '22', 'x-kept': 'yes' })
    res.write('{"jsonrpc":')
    setTimeout(() => res.end('"2.0",id:1}'), 30)
  })
  const answer = await forward(pools, { path: '/mcp/p/', method: 'POST', body: '{}' })
  t.equal(answer.statusCode, 200)
  t.equal(answer.headers['x-kept'], 'yes', 'the headers as sent')
  t.ok(Buffer.isBuffer(answer.body), 'a Buffer')
  t.equal(answer.body.toString(), '{"jsonrpc":"2.0",id:1}', 'every byte, in order')
})

t.test('an informational answer (103) is passed over, the final one comes', async t => {
  const { pools } = await setup(t, (_req, res) => {
    res.writeEarlyHints({ link: '</x>; rel=preload' })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' })
    res.end('{}')
  })
  const answer = await forward(pools, { path: '/', method: 'POST', body: '{}' })
  t.equal(answer.statusCode, 200)
  t.equal(await text(answer.body), '{}')
})

t.test('answers that stream: of unknown length, larger than WHOLE_ANSWER_BYTES, event streams', async t => {
  const big = Buffer.alloc(WHOLE_ANSWER_BYTES + 1, 'a')
  const { pools } = await setup(t, (req, res) => {
    if (req.url === '/chunked') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"a":')
      res.end('1}')
    } else if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(big.length) })
      res.end(big)
    } else {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-length': '15' })
      res.end('data: one\n\n:x\n\n')
    }
  })
  for (const [path, expected] of [['/chunked', '{"a":1}'], ['/big', big.toString()], ['/events', 'data: one\n\n:x\n\n']]) {
    const answer = await forward(pools, { path, method: 'POST', body: '{}' })
    t.ok(answer.body instanceof Readable, `${path}: a stream`)
    t.equal(await text(answer.body), expected, `${path}: every byte`)
  }
})

t.test('a streamed answer not read holds the upstream back (back-pressure), and then comes whole', async t => {
  const total = 32 * 1024 * 1024
  const piece = Buffer.alloc(64 * 1024, 'b')
  let written = 0
  let finished = false
  const { pools } = await setup(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    const more = (): void => {
      while (written < total) {
        written += piece.length
        if (!res.write(piece)) {
          res.once('drain', more)
          return
        }
      }
      res.end()
      finished = true
    }
    more()
  })
  const answer = await forward(pools, { path: '/', method: 'GET' })
  const body = answer.body as Readable
  await sleep(300)
  t.notOk(finished, 'the upstream could not write it all while nothing was read')
  t.ok(written < total / 2, `it stopped after ${written} of ${total} bytes`)
  let read = 0
  for await (const chunk of body) read += (chunk as Buffer).length
  t.equal(read, total, 'then every byte came')
  t.ok(finished)
})

t.test('abortDispatch before the request has started: it is never sent', async t => {
  const { pools, seen } = await setup(t, (_req, res) => { res.end('{}') })
  const owner: DispatchOwner = { upstreamDispatch: null }
  const answer = forward(pools, { path: '/', method: 'POST', body: '{}' }, owner)
  t.ok(owner.upstreamDispatch !== null, 'the dispatch is recorded on its owner')
  abortDispatch(owner)
  await t.rejects(answer, { code: 'UND_ERR_ABORTED' })
  await sleep(100)
  t.equal(seen.length, 0, 'the upstream saw no request')
  t.equal(owner.upstreamDispatch, null)
})

t.test('abortDispatch while waiting for the answer, or for the rest of a small answer: the upstream request is closed', async t => {
  const { pools, seen, closed } = await setup(t, (req, res) => {
    if (req.url === '/partial') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' })
      res.write('{"jsonrpc":')
    }
  })
  for (const path of ['/silent', '/partial']) {
    const owner: DispatchOwner = { upstreamDispatch: null }
    const answer = forward(pools, { path, method: 'POST', body: '{}' }, owner)
    await until(() => seen.some(req => req.url === path))
    await sleep(30)
    abortDispatch(owner)
    await t.rejects(answer, { code: 'UND_ERR_ABORTED' }, `${path}: the answer fails`)
    await until(() => closed.some(req => req.url === path))
    t.ok(closed.some(req => req.url === path), `${path}: the upstream request was closed`)
  }
})

t.test('a streamed answer: abortDispatch, or its reader leaving, closes the upstream request', async t => {
  const { pools, closed } = await setup(t, (req, res) => {
    res.writeHead(200, { 'content-type': req.url === '/aborted-events' ? 'text/event-stream' : 'application/octet-stream' })
    res.write(': open\n\n')
  })
  const owner: DispatchOwner = { upstreamDispatch: null }
  const aborted = await forward(pools, { path: '/aborted', method: 'GET' }, owner)
  const body = aborted.body as Readable
  await once(body, 'data')
  const failed = once(body, 'error')
  abortDispatch(owner)
  t.match((await failed)[0], { code: 'UND_ERR_ABORTED' }, 'the body fails')
  await until(() => closed.some(req => req.url === '/aborted'))

  const events = await forward(pools, { path: '/aborted-events', method: 'GET' }, owner)
  await until(() => (events.body as Readable).readableLength > 0)
  abortDispatch(owner)
  t.equal(await text(events.body), ': open\n\n', 'an event stream ends cleanly instead')
  await until(() => closed.some(req => req.url === '/aborted-events'))

  const left = await forward(pools, { path: '/left', method: 'GET' })
  const leftBody = left.body as Readable
  await once(leftBody, 'data')
  leftBody.destroy()
  await until(() => closed.some(req => req.url === '/left'))
  t.ok(closed.some(req => req.url === '/left'), 'the reader left: the upstream request was closed')
})

t.test('an upstream that cannot be reached: the callback gets the error, and a request body stream is dropped', async t => {
  const dead = createUpstreamPools('http://127.0.0.1:1', OPTIONS)
  t.teardown(() => dead.destroy())
  const body = new Readable({ read () {} })
  body.push('{"jsonrpc":')
  await t.rejects(forward(dead, { path: '/', method: 'POST', body }), { code: 'ECONNREFUSED' })
  await until(() => body.destroyed)
  t.ok(body.destroyed, 'the request body was destroyed')
})

t.test('an event stream that fails upstream mid-stream ends cleanly, with what came; another answer fails', async t => {
  const { pools } = await setup(t, (req, res) => {
    res.writeHead(200, { 'content-type': req.url === '/events' ? 'text/event-stream' : 'application/json' })
    res.write(req.url === '/events' ? 'data: 1\n\ndata: par' : '{"jsonrpc":')
    setTimeout(() => res.socket?.destroy(), 30)
  })
  const events = await forward(pools, { path: '/events', method: 'GET' })
  t.equal(await text(events.body), 'data: 1\n\ndata: par', 'a clean end of body: the client drops the partial event and reconnects')
  const json = await forward(pools, { path: '/json', method: 'POST', body: '{}' })
  await t.rejects(text(json.body), { code: 'UND_ERR_SOCKET' }, 'a JSON answer cut short fails: never a complete-looking one')
})

t.test('endCleanly: what the stream holds still arrives, then a clean end, and the upstream request is closed; relay adds bytes until then', async t => {
  const { pools, closed } = await setup(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write('data: 1\n\n')
  })
  const answer = await forward(pools, { path: '/', method: 'GET' })
  const body = answer.body as AnswerBody
  await until(() => body.readableLength > 0)
  t.ok(body.relay(Buffer.from(': ping\n\n')), 'relayed while open')
  body.endCleanly()
  t.notOk(body.relay(Buffer.from(': ping\n\n')), 'nothing once ended')
  body.endCleanly()
  t.equal(await text(body), 'data: 1\n\n: ping\n\n', 'what it held, then the end')
  await until(() => closed.length === 1)
  t.equal(closed.length, 1, 'the upstream request was closed')
})
