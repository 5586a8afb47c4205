import { test } from 'tap'
import type { Test } from 'tap'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { complete, paced } from '../../bench/paced.ts'

/** Listens on 127.0.0.1, port 0, until the test ends; the server's URL. */
async function listen (t: Test, server: Server): Promise<string> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>(resolve => server.close(() => resolve()))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
}

// The benchmark's steady load: spread over the run, not sent in a burst, and a slow answer counts
// in full. What it asserts is the shape of the load and the arithmetic, not how fast anything is.
test('paced spreads its requests over the run and counts a slow answer from when it was due', async t => {
  const arrivals: number[] = []
  let n = 0
  const server = createServer((req, res) => {
    arrivals.push(performance.now())
    const slow = ++n % 10 === 0
    req.resume()
    // 90 ms for answers counted as slow from 80 ms: a Node timer counts from the event loop's
    // cached time and may fire up to about 1 ms early; with 80, a CI run once counted 9 of 10.
    req.on('end', () => setTimeout(() => res.end('{}'), slow ? 90 : 0))
  })
  const url = await listen(t, server)

  const start = performance.now()
  const result = await paced({ url, rate: 100, seconds: 1, body: '{}', headers: { 'content-type': 'application/json' }, connections: 20 })

  t.equal(arrivals.length, 100, 'every request was sent')
  t.equal(result.errors + result.non2xx, 0)
  // A burst would put them all in the first few ms; paced, the first half-second holds about half.
  const early = arrivals.filter(at => at - start < 500).length
  t.ok(early >= 30 && early <= 70, `about half sent in the first half-second (${early})`)
  // One answer in ten waited at least 80 ms: the p99 sees it, the p50 does not.
  t.ok(result.p99 >= 80, `p99 ${result.p99} ms includes the slow answers`)
  t.ok(result.p50 < 80, `p50 ${result.p50} ms does not`)
  // Its samples, for merging slices: one a counted answer, over the second it counted.
  t.equal(result.latencies.length, 100)
  t.equal(result.latencies.filter(ms => ms >= 80).length, 10, 'the ten slow answers among them')
  t.ok(result.seconds >= 0.9 && result.seconds < 2, `counted for ${result.seconds} s`)
})

test('paced counts refused connections as errors', async t => {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  await new Promise(resolve => server.close(resolve))
  const result = await paced({ url, rate: 50, seconds: 0.2, body: '{}', headers: {}, connections: 5 })
  t.equal(result.errors, 10)
  t.equal(result.rps, 0)
})

test('paced sends its warm-up at the same rate and counts none of it', async t => {
  const arrivals: number[] = []
  let n = 0
  const server = createServer((req, res) => {
    arrivals.push(performance.now())
    // The warm-up's 50 answers are slow, the 50 counted ones are not.
    const slow = ++n <= 50
    req.resume()
    req.on('end', () => setTimeout(() => res.end('{}'), slow ? 60 : 0))
  })
  const url = await listen(t, server)

  const start = performance.now()
  const result = await paced({ url, rate: 100, seconds: 0.5, warmupSeconds: 0.5, body: '{}', headers: {}, connections: 20 })

  t.equal(arrivals.length, 100, 'warm-up and counted requests were all sent')
  const early = arrivals.filter(at => at - start < 500).length
  t.ok(early >= 35 && early <= 65, `the warm-up is paced like the rest (${early} in the first half-second)`)
  t.ok(result.p99 < 60, `p99 ${result.p99} ms leaves the slow warm-up out`)
  t.ok(result.rps > 50 && result.rps < 200, `rate ${result.rps.toFixed(0)} req/s over the counted half only`)
})

test('complete tells when an answer has all arrived, and its status', async t => {
  const head = (fields: string): string => `HTTP/1.1 201 Created\r\n${fields}\r\n`
  t.equal(complete(Buffer.from('HTTP/1.1 200 OK\r\ncontent-len')), undefined, 'headers not all there')
  t.equal(complete(Buffer.from(head('Content-Length: 4\r\n') + '{}')), undefined, 'half the body')
  t.same(complete(Buffer.from(head('Content-Length: 4\r\n') + '{  }')), { status: 201, close: false })
  t.same(complete(Buffer.from(head('Connection: close\r\nContent-Length: 2\r\n') + '{}')), { status: 201, close: true })
  const chunked = head('Transfer-Encoding: chunked\r\n') + '2\r\n{}\r\na\r\n0123456789\r\n0\r\n\r\n'
  t.same(complete(Buffer.from(chunked)), { status: 201, close: false }, 'every chunk and the last one')
  for (let cut = chunked.indexOf('\r\n\r\n') + 4; cut < chunked.length; cut++) {
    if (complete(Buffer.from(chunked.slice(0, cut))) !== undefined) t.fail(`complete when cut at ${cut}`)
  }
  t.same(complete(Buffer.from('HTTP/1.1 204 No Content\r\n\r\n')), { status: 204, close: false }, 'no body')
})

test('paced reads chunked answers, counts a non-2xx apart, and reconnects after a close', async t => {
  let n = 0
  let connections = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      n++
      // Every third answer is chunked, every fifth a 503, and each connection is closed after it.
      res.setHeader('connection', 'close')
      if (n % 5 === 0) res.statusCode = 503
      if (n % 3 === 0) {
        res.write('{')
        setTimeout(() => res.end('}'), 2)
      } else {
        res.end('{}')
      }
    })
  })
  server.on('connection', () => { connections++ })
  const url = await listen(t, server)

  const result = await paced({ url, rate: 200, seconds: 0.5, body: '{}', headers: {}, connections: 2 })

  t.equal(n, 100, 'every request reached the server')
  t.equal(connections, 100, 'each on a connection of its own')
  t.equal(result.non2xx, 20)
  t.equal(result.errors, 0)
  t.ok(result.rps > 100, `${result.rps.toFixed(0)} answers a second were counted`)
})
