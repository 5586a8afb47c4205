import { createConnection } from 'node:net'
import type { Socket } from 'node:net'
import { percentile, roundMs } from './stats.ts'
import type { LoadResult } from './harness.ts'

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

/**
 * What a paced run measured: the same shape as an autocannon run's (harness.ts), plus its samples,
 * so that runs of one side can be merged into one exact p99 (stats.ts, mergePaced).
 */
export interface PacedResult extends LoadResult {
  /** The latency of each counted 2xx answer, in ms, in the order they finished. */
  latencies: number[]
  /** How long the counted part of the run lasted, in seconds. */
  seconds: number
}

export function paced (opts: PacedOptions): Promise<PacedResult> {
  const warmup = Math.round(opts.rate * (opts.warmupSeconds ?? 0))
  const total = warmup + Math.round(opts.rate * opts.seconds)
  const interval = 1000 / opts.rate
  const request = requestBytes(opts)
  const { hostname, port } = new URL(opts.url)
  const latencies: number[] = []
  let errors = 0
  let non2xx = 0
  let sent = 0
  let finished = 0
  const start = performance.now()
  const counted = start + warmup * interval
  // Connections with nothing in flight, and due times waiting for one (all connections busy).
  const idle: Connection[] = []
  const waiting: number[] = []
  let waitingAt = 0
  const open = new Set<Connection>()

  return new Promise(resolve => {
    const done = (): void => {
      if (++finished < total) return
      for (const connection of open) connection.socket.destroy()
      const elapsed = (performance.now() - counted) / 1000
      resolve({
        rps: latencies.length / elapsed,
        p50: roundMs(percentile(latencies, 50)),
        p99: roundMs(percentile(latencies, 99)),
        errors,
        non2xx,
        latencies,
        seconds: elapsed
      })
    }
    const record = (due: number, status: number): void => {
      if (due >= counted) {
        if (status >= 200 && status < 300) latencies.push(performance.now() - due)
        else if (status === 0) errors++
        else non2xx++
      }
      done()
    }
    const next = (connection: Connection): void => {
      if (waitingAt < waiting.length) {
        send(connection, waiting[waitingAt++])
        if (waitingAt === waiting.length) waiting.length = waitingAt = 0
      } else {
        idle.push(connection)
      }
    }
    const send = (connection: Connection, due: number): void => {
      connection.due = due
      connection.socket.write(request)
    }
    const connect = (): Connection => {
      const socket = createConnection({ host: hostname, port: Number(port) })
      socket.setNoDelay(true)
      const connection: Connection = { socket, due: -1, response: null }
      open.add(connection)
      socket.on('data', (chunk: Buffer) => {
        connection.response = connection.response === null ? chunk : Buffer.concat([connection.response, chunk])
        const answer = complete(connection.response)
        if (answer === undefined) return
        const due = connection.due
        connection.response = null
        connection.due = -1
        record(due, answer.status)
        // A server that closes the connection after its answer gets a new one for the next request.
        if (answer.close) socket.destroy()
        else next(connection)
      })
      socket.on('error', noop)
      socket.on('close', () => {
        open.delete(connection)
        const at = idle.indexOf(connection)
        if (at !== -1) idle.splice(at, 1)
        // A request in flight on a connection that closed is an error; a waiting one gets a new
        // connection.
        if (connection.due !== -1) record(connection.due, 0)
        if (waitingAt < waiting.length && open.size < opts.connections) next(connect())
      })
      return connection
    }
    const dispatch = (due: number): void => {
      const connection = idle.pop() ?? (open.size < opts.connections ? connect() : undefined)
      if (connection === undefined) waiting.push(due)
      else send(connection, due)
    }
    const tick = (): void => {
      const now = performance.now()
      while (sent < total && start + sent * interval <= now) dispatch(start + interval * sent++)
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()))
    }
    tick()
  })
}

/** A keep-alive connection of the load: at most one request in flight, as a browser would. */
interface Connection {
  socket: Socket
  /** When the request in flight was due; -1 when none is. */
  due: number
  /** The answer's bytes so far. */
  response: Buffer | null
}

/** The request, as bytes, written as it is for every request. */
function requestBytes (opts: PacedOptions): Buffer {
  const { host, pathname, search } = new URL(opts.url)
  const body = Buffer.from(opts.body)
  const headers = Object.entries(opts.headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')
  return Buffer.concat([Buffer.from(`POST ${pathname}${search} HTTP/1.1\r\nhost: ${host}\r\n${headers}content-length: ${body.length}\r\n\r\n`), body])
}

export interface Answer {
  status: number
  /** The server said it closes the connection after this answer. */
  close: boolean
}

/**
 * An HTTP/1.1 answer's status, once all of it has arrived (a Content-Length body, or a chunked one
 * without trailers), undefined until then.
 */
export function complete (bytes: Buffer): Answer | undefined {
  const headEnd = bytes.indexOf('\r\n\r\n')
  if (headEnd === -1) return undefined
  const head = bytes.toString('latin1', 0, headEnd).toLowerCase()
  const answer = { status: Number(head.slice(9, 12)), close: /\r\nconnection: *close/.test(head) }
  const length = /\r\ncontent-length: *(\d+)/.exec(head)
  if (length !== null) return bytes.length >= headEnd + 4 + Number(length[1]) ? answer : undefined
  if (!/\r\ntransfer-encoding: *chunked/.test(head)) return answer
  let at = headEnd + 4
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at)
    if (lineEnd === -1) return undefined
    const size = parseInt(bytes.toString('latin1', at, lineEnd), 16)
    if (size === 0) return bytes.length >= lineEnd + 4 ? answer : undefined
    at = lineEnd + 2 + size + 2
    if (at > bytes.length) return undefined
  }
}

function noop (): void {}
