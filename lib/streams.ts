import { PassThrough } from 'node:stream'
import type { Readable } from 'node:stream'

/** The open event streams, so a shutdown can end them cleanly instead of cutting them. */
export interface StreamRegistry {
  /** Wraps an upstream stream: what the client is sent, and what `endAll` can end. */
  track: (upstream: Readable) => Readable
  /** Ends every open stream with a clean end of body (the client may reconnect elsewhere). */
  endAll: () => void
  readonly size: number
}

/** Creates an empty registry. */
export function createStreamRegistry (): StreamRegistry {
  const open = new Map<PassThrough, Readable>()

  function track (upstream: Readable): Readable {
    const client = new PassThrough()
    open.set(client, upstream)
    upstream.on('error', err => client.destroy(err))
    // The client went away or the stream finished: release the upstream request too.
    client.on('close', () => {
      open.delete(client)
      if (!upstream.destroyed) upstream.destroy()
    })
    upstream.pipe(client)
    return client
  }

  function endAll (): void {
    for (const [client, upstream] of open) {
      upstream.unpipe(client)
      upstream.destroy()
      client.end()
    }
  }

  return {
    track,
    endAll,
    get size () { return open.size }
  }
}
