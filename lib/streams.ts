import { Transform } from 'node:stream'
import type { Readable } from 'node:stream'
import { createEventBoundary } from './sse.ts'

/** A comment frame: clients ignore it, proxies and load balancers see the stream is alive. */
export const PING = Buffer.from(': ping\n\n')

export interface StreamRegistryOptions {
  /** A ping after this long without a byte from upstream, repeated, only between events; 0: never. */
  keepAliveMs: number
  /** A clean end after this long without a byte from upstream; 0: never. */
  idleTimeoutMs: number
}

/** The open event streams: kept alive with pings, ended when idle, and ended cleanly on shutdown. */
export interface StreamRegistry {
  /** Wraps an upstream event stream: what the client is sent, and what `endAll` can end. */
  track: (upstream: Readable) => Readable
  /** Ends every open stream with a clean end of body (the client may reconnect elsewhere). */
  endAll: () => void
  readonly size: number
}

function ignore (): void {}

/** Creates an empty registry. */
export function createStreamRegistry (opts: StreamRegistryOptions = { keepAliveMs: 0, idleTimeoutMs: 0 }): StreamRegistry {
  const open = new Map<Transform, () => void>()

  function track (upstream: Readable): Readable {
    const boundary = createEventBoundary()
    const timers: NodeJS.Timeout[] = []
    const client = new Transform({
      transform (chunk: Buffer, _encoding, done) {
        boundary.feed(chunk)
        for (const timer of timers) timer.refresh()
        done(null, chunk)
      }
    })

    // A clean end of body, never an error: an SSE client reconnects (with Last-Event-ID) after it,
    // and a partial event is simply dropped by its parser.
    function end (): void {
      if (!open.delete(client)) return
      for (const timer of timers) clearTimeout(timer)
      // Undici reports a destroyed body as aborted: that is ours, not a failure to pass on.
      upstream.off('error', end)
      upstream.on('error', ignore)
      upstream.unpipe(client)
      upstream.destroy()
      client.end()
    }

    if (opts.keepAliveMs > 0) {
      const keepAlive: NodeJS.Timeout = setTimeout(function ping () {
        if (boundary.between && client.writable) client.push(PING)
        keepAlive.refresh()
      }, opts.keepAliveMs)
      timers.push(keepAlive)
    }
    if (opts.idleTimeoutMs > 0) timers.push(setTimeout(end, opts.idleTimeoutMs))

    open.set(client, end)
    // Upstream reset mid-stream: the client still gets a clean end.
    upstream.on('error', end)
    // The client went away or the stream finished: release the upstream request and the timers.
    client.on('close', () => {
      open.delete(client)
      for (const timer of timers) clearTimeout(timer)
      if (!upstream.destroyed) upstream.destroy()
    })
    upstream.pipe(client)
    return client
  }

  return {
    track,
    endAll () {
      for (const end of [...open.values()]) end()
    },
    get size () { return open.size }
  }
}
