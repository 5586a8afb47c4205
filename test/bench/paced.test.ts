import { test } from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { paced } from '../../bench/paced.ts'

// The benchmark's steady load: spread over the run, not sent in a burst, and a slow answer counts
// in full. What it asserts is the shape of the load and the arithmetic, not how fast anything is.
test('paced spreads its requests over the run and counts a slow answer from when it was due', async t => {
  const arrivals: number[] = []
  let n = 0
  const server = createServer((req, res) => {
    arrivals.push(performance.now())
    const slow = ++n % 10 === 0
    req.resume()
    req.on('end', () => setTimeout(() => res.end('{}'), slow ? 80 : 0))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`

  const start = performance.now()
  const result = await paced({ url, rate: 100, seconds: 1, body: '{}', headers: { 'content-type': 'application/json' }, connections: 20 })

  t.equal(arrivals.length, 100, 'every request was sent')
  t.equal(result.errors + result.non2xx, 0)
  // A burst would put them all in the first few ms; paced, the first half-second holds about half.
  const early = arrivals.filter(at => at - start < 500).length
  t.ok(early >= 30 && early <= 70, `about half sent in the first half-second (${early})`)
  // One answer in ten waited 80 ms: the p99 sees it, the p50 does not.
  t.ok(result.p99 >= 80, `p99 ${result.p99} ms includes the slow answers`)
  t.ok(result.p50 < 80, `p50 ${result.p50} ms does not`)
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
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`

  const start = performance.now()
  const result = await paced({ url, rate: 100, seconds: 0.5, warmupSeconds: 0.5, body: '{}', headers: {}, connections: 20 })

  t.equal(arrivals.length, 100, 'warm-up and counted requests were all sent')
  const early = arrivals.filter(at => at - start < 500).length
  t.ok(early >= 35 && early <= 65, `the warm-up is paced like the rest (${early} in the first half-second)`)
  t.ok(result.p99 < 60, `p99 ${result.p99} ms leaves the slow warm-up out`)
  t.ok(result.rps > 50 && result.rps < 200, `rate ${result.rps.toFixed(0)} req/s over the counted half only`)
})
