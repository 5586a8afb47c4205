import { Readable } from 'node:stream'
import { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { errors } from 'undici'
import type { Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'node:http'
import type { RelayedStream } from './streams.ts'
import { isEventStream } from './headers.ts'

/**
 * An answer of at most this many bytes, with a declared length and not an event stream, is read
 * whole before it is passed on: then it goes to the client in one write, with no stream between
 * the two sides. As much as a stream would hold before it stopped reading (Node's default
 * high-water mark), so no request holds more memory than it would as a stream.
 */
export const WHOLE_ANSWER_BYTES = 64 * 1024

/** Ragie's answer, as reply-from takes it from `request`'s callback. */
export interface UpstreamAnswer {
  statusCode: number
  headers: IncomingHttpHeaders
  /** The whole body when it was read whole, else a stream of it. */
  body: Buffer | AnswerBody
}

export type AnswerCallback = (err: Error | null, answer?: UpstreamAnswer) => void

function ignore (): void {}

/** Whether an answer is read whole (see WHOLE_ANSWER_BYTES). */
export function readWhole (method: string, headers: IncomingHttpHeaders): boolean {
  if (method === 'HEAD') return false
  const length = headers['content-length']
  if (typeof length !== 'string' || length.length > 6) return false
  const bytes = Number(length)
  if (!(bytes <= WHOLE_ANSWER_BYTES)) return false
  return !isEventStream(headers['content-type'])
}

/**
 * A request body no longer to be sent is destroyed, as undici's own handler does: the client's
 * request itself (an IncomingMessage) without its connection, which still carries the error answer
 * (nodejs/node#38505).
 */
function dropBody (body: Readable, err: Error): void {
  if (body.destroyed) return
  if (Object.getPrototypeOf(body).constructor === IncomingMessage) (body as IncomingMessage).socket = null as unknown as Socket
  body.on('error', ignore)
  body.destroy(err)
}

/**
 * An answer's body as a stream: reading resumes the connection, destroying it aborts the request.
 * An event stream's can be ended cleanly, and ends cleanly when the connection fails, as a
 * RelayedStream (lib/streams.ts).
 */
export class AnswerBody extends Readable implements RelayedStream {
  controller: Dispatcher.DispatchController
  /** Its end has been pushed (or it failed): nothing more goes in. */
  ended = false
  /** An event stream: a failure upstream ends it cleanly (see `endCleanly`), not with an error. */
  readonly endsCleanly: boolean

  constructor (controller: Dispatcher.DispatchController, endsCleanly: boolean) {
    super()
    this.controller = controller
    this.endsCleanly = endsCleanly
  }

  endCleanly (): void {
    if (this.ended) return
    this.ended = true
    this.push(null)
    this.controller.abort(new errors.RequestAbortedError())
  }

  relay (chunk: Buffer): boolean {
    if (this.ended || this.destroyed) return false
    this.push(chunk)
    return true
  }

  override _read (): void {
    this.controller.resume()
  }

  override _destroy (err: Error | null, callback: (err: Error | null) => void): void {
    if (!this.ended) {
      this.ended = true
      this.controller.abort(err ?? new errors.RequestAbortedError())
    }
    callback(err)
  }
}

/**
 * undici's `request` for reply-from, made for a proxy: the same callback and answer, without what
 * a proxy never uses (an abort signal, an async resource, a body with fetch's methods), and a
 * small answer of declared length comes as a Buffer (WHOLE_ANSWER_BYTES). `abort` ends the request
 * at any point: before it has started (it is then never sent), while waiting, or while its answer
 * streams.
 */
export class UpstreamRequest implements Dispatcher.DispatchHandler {
  callback: AnswerCallback | null
  method: string
  requestBody: unknown
  controller: Dispatcher.DispatchController | null = null
  reason: Error | null = null
  res: AnswerBody | null = null
  statusCode = 0
  headers: IncomingHttpHeaders | null = null
  chunks: Buffer[] | null = null

  constructor (method: string, requestBody: unknown, callback: AnswerCallback) {
    this.method = method
    this.requestBody = requestBody
    this.callback = callback
  }

  abort (reason: Error): void {
    if (this.controller !== null) this.controller.abort(reason)
    else this.reason = reason
  }

  onRequestStart (controller: Dispatcher.DispatchController): void {
    if (this.reason !== null) {
      controller.abort(this.reason)
      return
    }
    this.controller = controller
  }

  onResponseStart (controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return
    if (readWhole(this.method, headers)) {
      this.statusCode = statusCode
      this.headers = headers
      this.chunks = []
      return
    }
    const callback = this.callback as AnswerCallback
    this.callback = null
    const res = this.res = new AnswerBody(controller, isEventStream(headers['content-type']))
    callback(null, { statusCode, headers, body: res })
  }

  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.chunks !== null) this.chunks.push(chunk)
    else if (this.res !== null && !this.res.push(chunk)) controller.pause()
  }

  onResponseEnd (): void {
    const chunks = this.chunks
    if (chunks !== null) {
      const callback = this.callback as AnswerCallback
      this.callback = null
      this.chunks = null
      callback(null, { statusCode: this.statusCode, headers: this.headers as IncomingHttpHeaders, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) })
      return
    }
    const res = this.res
    if (res !== null) {
      res.ended = true
      res.push(null)
    }
  }

  onResponseError (_controller: Dispatcher.DispatchController, err: Error): void {
    const callback = this.callback
    if (callback !== null) {
      this.callback = null
      this.chunks = null
      queueMicrotask(() => { callback(err) })
    }
    const res = this.res
    if (res !== null && !res.ended) {
      this.res = null
      // An event stream: what came reaches the client, then a clean end (it reconnects).
      if (res.endsCleanly) res.endCleanly()
      else {
        res.ended = true
        queueMicrotask(() => { res.on('error', ignore).destroy(err) })
      }
    }
    const body = this.requestBody
    if (body instanceof Readable) {
      this.requestBody = null
      dropBody(body, err)
    }
  }
}
