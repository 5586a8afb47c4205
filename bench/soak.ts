import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { build, startFixtures, MEMBER, ORG } from '../test/helper.ts'

// `npm run soak`: mixed load against an in-process stack (AuthKit, WorkOS and MCP stand-ins, the
// gateway listening on 127.0.0.1) for SOAK_SECONDS. POST calls in closed loops, and long SSE
// streams held for SOAK_STREAM_SECONDS then reopened. Prints errors and memory every
// SOAK_REPORT_SECONDS; exits 1 if any error was seen. Not part of `npm test`. The stream quota is
// twice the streams: a client that reopens at once may hold its old slot until the close is seen.

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60)
const CALLERS = Number(process.env.SOAK_CALLERS ?? 16)
const STREAMS = Number(process.env.SOAK_STREAMS ?? 20)
const STREAM_SECONDS = Number(process.env.SOAK_STREAM_SECONDS ?? 10)
const REPORT_SECONDS = Number(process.env.SOAK_REPORT_SECONDS ?? 5)

const teardowns: Array<() => unknown> = []
const t = { teardown: (fn: () => unknown) => teardowns.push(fn) }
const f = await startFixtures(t)
const app = await build(t, { ...f.env, MAX_STREAMS_PER_USER: String(STREAMS * 2), SSE_KEEPALIVE: '2' })
await app.listen({ port: 0, host: '127.0.0.1' })
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/${ORG}/mcp`
const authorization = `Bearer ${f.token(MEMBER, { exp: Math.floor(Date.now() / 1000) + SECONDS + 600 })}`

const stats = { calls: 0, events: 0, streamsOpened: 0, openStreams: 0, errors: 0 }
const errorSamples: string[] = []
const state = { running: true }

function fail (what: string): void {
  stats.errors++
  if (errorSamples.length < 20) errorSamples.push(what)
}

async function caller (id: number): Promise<void> {
  let n = 0
  while (state.running) {
    const body = JSON.stringify({ jsonrpc: '2.0', id: `${id}-${n++}`, method: 'tools/list', params: { pad: 'p'.repeat(n % 2048) } })
    try {
      const res = await fetch(`${base}/raw/echo`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body })
      const answer = await res.json() as { bytes?: number }
      if (res.status !== 200 || answer.bytes !== Buffer.byteLength(body)) fail(`call: ${res.status} ${JSON.stringify(answer).slice(0, 100)}`)
      else stats.calls++
    } catch (err) {
      fail(`call: ${(err as Error).message}`)
    }
  }
}

/** Holds one event stream for a while, checking its events arrive whole and in order, then reopens. */
async function streamer (): Promise<void> {
  while (state.running) {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), STREAM_SECONDS * 1000)
    let expected = 1
    let text = ''
    try {
      const res = await fetch(`${base}/raw/sse`, { headers: { authorization, accept: 'text/event-stream' }, signal: controller.signal })
      if (res.status !== 200) {
        fail(`stream: ${res.status}`)
        await sleep(100)
        continue
      }
      stats.streamsOpened++
      stats.openStreams++
      const decoder = new TextDecoder()
      try {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          text += decoder.decode(chunk, { stream: true })
          let end: number
          while ((end = text.indexOf('\n\n')) !== -1) {
            const event = text.slice(0, end)
            text = text.slice(end + 2)
            if (event === ': ping') continue
            if (event !== `id: ${expected}\ndata: {"n":${expected}}`) fail(`stream: expected event ${expected}, got ${JSON.stringify(event.slice(0, 60))}`)
            expected++
            stats.events++
          }
          if (!state.running) controller.abort()
        }
        if (!controller.signal.aborted) fail('stream: ended before the client left')
      } finally {
        stats.openStreams--
      }
    } catch (err) {
      if (!controller.signal.aborted) fail(`stream: ${(err as Error).message}`)
    } finally {
      clearTimeout(timer)
    }
  }
}

// The live heap, not the garbage not yet collected: a full collection before each sample.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function mib (bytes: number): string {
  return (bytes / 1048576).toFixed(1)
}

const memory: Array<{ s: number, heap: number, rss: number }> = []
const started = Date.now()
let lastCalls = 0
process.stdout.write(`soak: ${SECONDS}s, ${CALLERS} callers, ${STREAMS} streams held ${STREAM_SECONDS}s each\n`)
process.stdout.write('   s   calls/s   calls  events  open streams  errors  heap MiB (after GC)  rss MiB\n')
const reporter = setInterval(() => {
  const s = Math.round((Date.now() - started) / 1000)
  // The stand-in upstream records every request for the tests; that record is not the gateway's memory.
  f.upstream.requests.length = 0
  gc()
  const { heapUsed, rss } = process.memoryUsage()
  memory.push({ s, heap: heapUsed, rss })
  const rate = (stats.calls - lastCalls) / REPORT_SECONDS
  lastCalls = stats.calls
  process.stdout.write(`${String(s).padStart(4)}  ${rate.toFixed(0).padStart(8)}  ${String(stats.calls).padStart(6)}  ${String(stats.events).padStart(6)}  ${String(stats.openStreams).padStart(12)}  ${String(stats.errors).padStart(6)}  ${mib(heapUsed).padStart(19)}  ${mib(rss).padStart(7)}\n`)
}, REPORT_SECONDS * 1000)

const loops = [
  ...Array.from({ length: CALLERS }, (_, i) => caller(i)),
  ...Array.from({ length: STREAMS }, () => streamer())
]
await sleep(SECONDS * 1000)
state.running = false
await Promise.all(loops)
clearInterval(reporter)
for (const fn of teardowns.reverse()) await fn()

const heaps = memory.map(m => m.heap)
process.stdout.write(`\ncalls ${stats.calls}, stream events ${stats.events}, streams opened ${stats.streamsOpened}, errors ${stats.errors}\n`)
if (heaps.length > 0) {
  process.stdout.write(`heap MiB: first ${mib(heaps[0])}, min ${mib(Math.min(...heaps))}, max ${mib(Math.max(...heaps))}, last ${mib(heaps.at(-1) as number)}\n`)
}
for (const sample of errorSamples) process.stdout.write(`ERROR ${sample}\n`)
process.stdout.write(stats.errors === 0 ? 'ok\n' : 'FAILED\n')
process.exit(stats.errors === 0 ? 0 : 1)
