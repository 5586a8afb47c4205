import { Dispatcher, Pool, errors } from 'undici'
import { UpstreamRequest } from './upstream-request.ts'
import type { AnswerCallback } from './upstream-request.ts'
import type { FastifyReplyFromOptions } from '@fastify/reply-from'

/** What a request's forwarding is recorded on, to be aborted later (a Fastify request, say). */
export interface DispatchOwner {
  upstreamDispatch: UpstreamRequest | null
}

/**
 * Aborts the upstream request forwarded for `owner`, if one was: at once when it has started, else
 * as soon as it starts (it is then never sent). Without it, a call whose client left while Ragie
 * was still working ran on for nobody, holding a connection until Ragie answered. Not through an
 * abort signal: undici's signal path adds a copy of the options, a hook and a listener to every
 * request, for an abort that almost never comes.
 */
export function abortDispatch (owner: DispatchOwner): void {
  const handler = owner.upstreamDispatch
  if (handler === null) return
  owner.upstreamDispatch = null
  handler.abort(new errors.RequestAbortedError())
}

/**
 * Two connection pools to Ragie: one for event streams (GET: the stream a client holds open for
 * as long as it is connected, SPEC §6) and one for calls (POST and DELETE).
 *
 * One pool would do, but an undici pool picks a connection for every request by walking its
 * connections from the first until it finds one that is free, and a connection that carries an
 * open event stream is never free. With every stream in the same pool, each call walked past all
 * of them: with 2,000 streams open, the hot path's throughput halved (the bare proxy's too). Kept
 * apart, a call only walks past the other calls in flight.
 *
 * undici 8, not the 7 that reply-from brings: when a client leaves an event stream, the proxy
 * aborts its upstream response, and undici 7 then opened a new connection for the request it had
 * just dropped and left it idle, with no keep-alive timer to close it (nodejs/undici#5845): one
 * stray TLS connection to Ragie for every stream a client left. undici 8 opens none.
 */
export class UpstreamPools extends Dispatcher {
  readonly events: Pool
  readonly calls: Pool

  constructor (origin: string, options: Pool.Options, callOptions: Pool.Options = {}) {
    super()
    this.events = new Pool(origin, options)
    this.calls = new Pool(origin, { ...options, ...callOptions })
  }

  /**
   * Whose the next `forward` is: set just before reply-from's call, which forwards at once (in the
   * same tick), so the request is recorded on it (see `abortDispatch`).
   */
  next: DispatchOwner | null = null

  /**
   * reply-from's one call: undici's `request(options, callback)`, answered by an UpstreamRequest
   * (lib/upstream-request.ts) in place of undici's own request handler.
   */
  forward (options: Dispatcher.RequestOptions, callback: AnswerCallback): void {
    const handler = new UpstreamRequest(options.method, options.body, callback)
    const owner = this.next
    if (owner !== null) {
      this.next = null
      owner.upstreamDispatch = handler
    }
    this.dispatch(options, handler)
  }

  /**
   * What reply-from's `undici` option is given: all reply-from calls on it is
   * `request(options, callback)`, answered by `forward`, and `destroy` as it closes. (reply-from's
   * types name its own copy of undici, 7: these pools are undici 8, see above why.)
   */
  forReplyFrom (): FastifyReplyFromOptions['undici'] {
    return {
      request: (options: Dispatcher.RequestOptions, callback: AnswerCallback) => { this.forward(options, callback) },
      destroy: () => this.destroy()
    } as unknown as FastifyReplyFromOptions['undici']
  }

  dispatch (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return (options.method === 'GET' ? this.events : this.calls).dispatch(options, handler)
  }

  /** Closes both pools once what is in flight has ended; the promise and the callback forms of undici's. */
  close (): Promise<void>
  close (callback: () => void): void
  close (callback?: () => void): Promise<void> | void {
    return settle(Promise.all([this.events.close(), this.calls.close()]), callback)
  }

  /** Ends both pools at once, failing what is in flight with `err`; each form of undici's. */
  destroy (): Promise<void>
  destroy (err: Error | null): Promise<void>
  destroy (callback: () => void): void
  destroy (err: Error | null, callback: () => void): void
  destroy (errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    const err = typeof errOrCallback === 'function' ? null : errOrCallback ?? null
    return settle(Promise.all([this.events.destroy(err), this.calls.destroy(err)]), typeof errOrCallback === 'function' ? errOrCallback : callback)
  }
}

/**
 * A promise, or (given a callback) nothing and the callback called as undici calls its own:
 * `(null, null)` once done, `(err, null)` on an error.
 */
function settle (done: Promise<unknown>, callback: ((err: unknown, data: null) => void) | undefined): Promise<void> | void {
  const ended = done.then(() => {})
  if (callback === undefined) return ended
  ended.then(() => { callback(null, null) }, (err: unknown) => { callback(err, null) })
}

/** Both pools with `options`; the calls pool with `callOptions` over them. */
export function createUpstreamPools (origin: string, options: Pool.Options, callOptions: Pool.Options = {}): UpstreamPools {
  return new UpstreamPools(origin, options, callOptions)
}
