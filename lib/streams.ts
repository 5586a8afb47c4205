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

/** Whose a stream is: the token's user, in the URL's organization. */
export interface StreamOwner {
  userId: string
  org: string
}

/**
 * The open event streams: kept alive with pings, ended when idle, ended cleanly on shutdown, and
 * ended when their user's membership is revoked.
 */
export interface StreamRegistry {
  /** Wraps an upstream event stream: what the client is sent, and what `endAll` and `endFor` can end. */
  track: (upstream: Readable, owner: StreamOwner) => Readable
  /** Ends every open stream with a clean end of body (the client may reconnect elsewhere). */
  endAll: () => void
  /**
   * Ends, cleanly, the user's open streams in `org` (every organization when undefined): the
   * client's reconnection then meets the checks again. Returns how many it ended.
   */
  endFor: (userId: string, org?: string) => number
  /** Ends, cleanly, the open streams whose owner passes `test`; returns how many. */
  endWhere: (test: (owner: StreamOwner) => boolean) => number
  readonly size: number
}

interface OpenStream {
  end: () => void
  owner: StreamOwner
}

function ignore (): void {}

/** Creates an empty registry. */
export function createStreamRegistry (opts: StreamRegistryOptions = { keepAliveMs: 0, idleTimeoutMs: 0 }): StreamRegistry {
  const open = new Map<Transform, OpenStream>()

  function track (upstream: Readable, owner: StreamOwner): Readable {
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

    // The owner's two ids only, not the object given (a request's destination, with its key).
    open.set(client, { end, owner: { userId: owner.userId, org: owner.org } })
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

  function endWhere (test: (owner: StreamOwner) => boolean): number {
    let ended = 0
    for (const { end, owner } of [...open.values()]) {
      if (!test(owner)) continue
      end()
      ended++
    }
    return ended
  }

  return {
    track,
    endAll () {
      for (const { end } of [...open.values()]) end()
    },
    endFor (userId, org) {
      return endWhere(owner => owner.userId === userId && (org === undefined || owner.org === org))
    },
    endWhere,
    get size () { return open.size }
  }
}
