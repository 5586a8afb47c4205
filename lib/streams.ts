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

interface Tracked {
  upstream: Readable
  onError: (err: Error) => void
}

function ignore (): void {}

/** Creates an empty registry. */
export function createStreamRegistry (): StreamRegistry {
  const open = new Map<PassThrough, Tracked>()

  function track (upstream: Readable): Readable {
    const client = new PassThrough()
    const onError = (err: Error) => client.destroy(err)
    open.set(client, { upstream, onError })
    upstream.on('error', onError)
    // The client went away or the stream finished: release the upstream request too.
    client.on('close', () => {
      open.delete(client)
      if (!upstream.destroyed) upstream.destroy()
    })
    upstream.pipe(client)
    return client
  }

  function endAll (): void {
    for (const [client, { upstream, onError }] of open) {
      // Undici reports a destroyed body as aborted: that is ours, not a failure to pass on.
      upstream.off('error', onError)
      upstream.on('error', ignore)
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
