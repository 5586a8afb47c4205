import { Transform } from 'node:stream'
import type { Readable } from 'node:stream'

/** A request body that grew past the limit while streaming: the upstream request is aborted. */
export class BodyTooLargeError extends Error {
  constructor (limit: number) {
    super(`the request body is larger than ${limit} bytes`)
    this.name = 'BodyTooLargeError'
  }
}

export interface WatchOptions {
  /** Bytes the body may hold; past them it errors with BodyTooLargeError. */
  limit: number
  /** How many of its first bytes to keep a copy of (0: none). */
  keep: number
}

/** A body streaming through, and a copy of its first bytes. */
export interface WatchedBody {
  body: Readable
  head: () => Buffer
}

/**
 * One pass-through for a request body on its way to Ragie: it counts the bytes against the limit
 * (a chunked body declares no length) and keeps a copy of the first `keep` for the audit log.
 * One stream, not one per concern: each stage costs every request a pipe.
 */
export function watchBody (body: Readable, opts: WatchOptions): WatchedBody {
  const head: Buffer[] = []
  let seen = 0
  let kept = 0
  const watched = new Transform({
    transform (chunk: Buffer, _encoding, done) {
      seen += chunk.length
      if (seen > opts.limit) return done(new BodyTooLargeError(opts.limit))
      if (kept < opts.keep) {
        const part = chunk.subarray(0, opts.keep - kept)
        head.push(part)
        kept += part.length
      }
      done(null, chunk)
    }
  })
  body.on('error', err => watched.destroy(err))
  return { body: body.pipe(watched), head: () => Buffer.concat(head) }
}

/**
 * For a body whose Content-Length was declared (and checked against the limit: HTTP framing then
 * delivers no more): no stream in between, a listener copies the first `keep` bytes as the proxy
 * reads them. The body is paused at once, so the listener never starts the flow itself.
 */
export function tapBody (body: Readable, keep: number): WatchedBody {
  const head: Buffer[] = []
  let kept = 0
  if (keep > 0) {
    const onData = (chunk: Buffer): void => {
      // A chunk that fits is kept as it is: no view made of it.
      const part = chunk.length <= keep - kept ? chunk : chunk.subarray(0, keep - kept)
      head.push(part)
      kept += part.length
      if (kept >= keep) body.off('data', onData)
    }
    body.on('data', onData)
    body.pause()
  }
  // A small body usually arrives in one chunk: then it is the head as it is, with no copy.
  return { body, head: () => head.length === 1 ? head[0] : Buffer.concat(head) }
}
