import { Agent, request } from 'node:http'
import { percentile } from './stats.ts'

/**
 * An open-loop load at a steady rate, for latency at "a fixed rate both can hold".
 *
 * autocannon's `overallRate` is not that: each connection sends its share of the second as fast as
 * it can when the second starts, then waits for the next, so the proxy sees a burst at full speed
 * every second and the p99 measures the queue of that burst. Its latencies are also corrected with
 * an expected interval of 1 ms, which turns every slow answer into a run of made-up slow samples.
 *
 * Here request n is due at `start + n / rate`, whatever happened to the others, and its latency
 * runs from that moment (not from when it was sent) to the end of its answer: a stall anywhere,
 * this process's own included, counts, and nothing is left out for having been late
 * (no coordinated omission).
 */

export interface PacedOptions {
  url: string
  rate: number
  seconds: number
  body: string
  headers: Record<string, string>
  /** The most requests in flight at once (keep-alive connections). */
  connections: number
  /**
   * Seconds of the same load first, over the same connections, that count for nothing: the
   * connections are opened, and this process's code and the server's are warm, when it starts
   * counting. Without it the first round's p99 held this process's own start-up.
   */
  warmupSeconds?: number
}

export interface PacedResult {
  rps: number
  p50: number
  p99: number
  errors: number
  non2xx: number
}

export function paced (opts: PacedOptions): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections })
  const warmup = Math.round(opts.rate * (opts.warmupSeconds ?? 0))
  const total = warmup + Math.round(opts.rate * opts.seconds)
  const interval = 1000 / opts.rate
  const body = Buffer.from(opts.body)
  const headers = { ...opts.headers, 'content-length': String(body.length) }
  const latencies: number[] = []
  let errors = 0
  let non2xx = 0
  let sent = 0
  let finished = 0
  const start = performance.now()
  const counted = start + warmup * interval

  return new Promise(resolve => {
    const done = (): void => {
      if (++finished < total) return
      agent.destroy()
      const elapsed = (performance.now() - counted) / 1000
      resolve({
        rps: latencies.length / elapsed,
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        errors,
        non2xx
      })
    }
    const send = (due: number): void => {
      const counts = due >= counted
      const req = request(opts.url, { method: 'POST', agent, headers }, res => {
        res.on('data', noop)
        res.on('end', () => {
          if (counts && res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) latencies.push(performance.now() - due)
          else if (counts) non2xx++
          done()
        })
      })
      req.on('error', () => { if (counts) errors++; done() })
      req.end(body)
    }
    const tick = (): void => {
      const now = performance.now()
      while (sent < total && start + sent * interval <= now) send(start + interval * sent++)
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()))
    }
    tick()
  })
}

function noop (): void {}

function round (ms: number): number {
  return Math.round(ms * 100) / 100
}
