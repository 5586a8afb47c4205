import { Dispatcher, Pool } from 'undici'

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
/**
 * Where a request's headers carry the signal that aborts it (see `ClientGone`). reply-from gives
 * undici no signal of its own; a symbol key rides along with the headers it copies (Object.assign
 * copies symbols) and is never sent (undici walks string keys only).
 */
export const UPSTREAM_SIGNAL = Symbol('upstream signal')

/**
 * Aborts an upstream request when its client has left before the answer was complete: the
 * smallest signal undici takes (an emitter's `on`, `once` and `removeListener`; no `aborted`
 * field, so undici does not take it for a DOM AbortSignal). Without it, a call whose client left
 * while Ragie was still working ran on for nobody, holding a connection until Ragie answered.
 */
export class ClientGone {
  #listener: (() => void) | null = null

  on (_event: string, listener: () => void): this {
    this.#listener = listener
    return this
  }

  once (event: string, listener: () => void): this {
    return this.on(event, listener)
  }

  removeListener (_event: string, listener: () => void): this {
    if (this.#listener === listener) this.#listener = null
    return this
  }

  /** The client has gone: the request is aborted (once; nothing if it is already over). */
  abort (): void {
    const listener = this.#listener
    this.#listener = null
    listener?.()
  }
}

export class UpstreamPools extends Dispatcher {
  readonly events: Pool
  readonly calls: Pool

  constructor (origin: string, options: Pool.Options, callOptions: Pool.Options = {}) {
    super()
    this.events = new Pool(origin, options)
    this.calls = new Pool(origin, { ...options, ...callOptions })
  }

  /** undici's `request`, with the signal the headers carry (UPSTREAM_SIGNAL), if any. */
  request<T = null> (options: Dispatcher.RequestOptions<T>): Promise<Dispatcher.ResponseData<T>>
  request<T = null> (options: Dispatcher.RequestOptions<T>, callback: (err: Error | null, data: Dispatcher.ResponseData<T>) => void): void
  request<T = null> (options: Dispatcher.RequestOptions<T>, callback?: (err: Error | null, data: Dispatcher.ResponseData<T>) => void): Promise<Dispatcher.ResponseData<T>> | void {
    const signal = (options.headers as Record<symbol, ClientGone | undefined> | undefined)?.[UPSTREAM_SIGNAL]
    if (signal !== undefined) options.signal = signal as unknown as Dispatcher.RequestOptions<T>['signal']
    return callback === undefined ? super.request(options) : super.request(options, callback)
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
