import fp from 'fastify-plugin'
import replyFrom from '@fastify/reply-from'
import type { Pool } from 'undici'
import type { FastifyReplyFromHooks } from '@fastify/reply-from'
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { clientResponseHeaders, isEncoded, isEventStream, upstreamRequestHeaders } from '../lib/headers.ts'
import { createStreamRegistry } from '../lib/streams.ts'
import { abortDispatch, createUpstreamPools } from '../lib/upstream-pools.ts'
import type { StreamRegistry, TrackOptions } from '../lib/streams.ts'
import type { AnswerBody, UpstreamRequest } from '../lib/upstream-request.ts'
import { clientClosed, gatewayError } from '../lib/errors.ts'
import { setCorsHeaders } from '../lib/cors.ts'
import { BodyTooLargeError, bodyTooLarge } from '../lib/limits.ts'
import type { SessionBinder, SessionOwner } from '../lib/session.ts'

declare module 'fastify' {
  interface FastifyInstance {
    upstream: Upstream
  }
  interface FastifyRequest {
    /** Set by `upstream.forward`, for reply-from's callbacks. */
    forwarding: Destination | null
    /** Set as the upstream request is dispatched: it is aborted if the client leaves first. */
    upstreamDispatch: UpstreamRequest | null
  }
}

/**
 * Where a verified request goes: its upstream path and query, the Ragie key to send, its session,
 * and whose it is (the user and organization a session Ragie opens is bound to: a Destination is
 * its own SessionOwner, so nothing more is made per request for it).
 */
export interface Destination extends SessionOwner {
  /** The upstream path, without the query. */
  path: string
  /** The query to send, without its `?`; empty for none. */
  query: string
  apiKey: string
  /** Ragie's own session id, unwrapped from the client's; undefined when the client sent none. */
  sessionId: string | undefined
}

export interface Upstream {
  forward: (request: FastifyRequest, reply: FastifyReply, destination: Destination) => FastifyReply
  readonly streams: StreamRegistry
}

interface UpstreamResponse {
  headers: Record<string, string | string[] | undefined>
  /** A small answer read whole (lib/upstream-request.ts), or a stream. */
  stream: Buffer | AnswerBody
}

/** Ragie gets its own session id back, never the client's wrapped one. */
function withSession (headers: IncomingHttpHeaders, sessionId: string | undefined): IncomingHttpHeaders {
  if (sessionId === undefined) delete headers['mcp-session-id']
  else headers['mcp-session-id'] = sessionId
  return headers
}

/** The client gets Ragie's session id wrapped for its own (user, organization); null drops it. */
function bindSession (headers: OutgoingHttpHeaders, destination: Destination, binder: SessionBinder): OutgoingHttpHeaders {
  const upstreamId = headers['mcp-session-id']
  if (upstreamId === undefined) return headers
  const bound = typeof upstreamId === 'string' ? binder.wrap(upstreamId, destination) : null
  if (bound === null) delete headers['mcp-session-id']
  else headers['mcp-session-id'] = bound
  return headers
}

function destinationOf (request: { forwarding: Destination | null }): Destination {
  return request.forwarding as Destination
}

// How much longer than SSE_IDLE_TIMEOUT a call's answer may be silent before it is cut off.
const CALL_BODY_MARGIN_MS = 1000

// How a compressed event stream is relayed (lib/streams.ts): made once, not per stream.
const NO_PINGS: TrackOptions = { keepAlive: false }

function flushHeaders (res: ServerResponse): void {
  if (!res.headersSent && !res.destroyed) res.flushHeaders()
}

/**
 * An event stream's headers go on their own only if no event came with them: what Ragie sent in
 * the same packet as its headers reaches the client before `setImmediate`, and Node then sends the
 * headers with it, in one write (a write of its own cost a call answered with an event stream
 * about a fifth of its CPU).
 */
function flushHeadersSoon (this: ServerResponse): void {
  setImmediate(flushHeaders, this)
}

// The codes of "too slow", on reply-from's error or on undici's beneath it (its cause): reply-from's
// own for headers, undici's for the connection (TCP + TLS), and undici's for a call's answer that
// stalled before it was passed on (a small one, read whole: lib/upstream-request.ts).
const TIMEOUT_CODES = new Set(['FST_REPLY_FROM_GATEWAY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

/**
 * Streams a request to Ragie with @fastify/reply-from (undici, keep-alive pool): bodies pass
 * unparsed both ways (a small answer of declared length is read whole first and sent in one write:
 * lib/upstream-request.ts), event streams are tracked so a shutdown can end them cleanly.
 */
async function proxyPlugin (fastify: FastifyInstance): Promise<void> {
  const c = fastify.config
  const pool: Pool.Options = {
    // No cap (undici's default, said here on purpose): each open event stream holds a connection,
    // and a cap would queue the stream after it forever. Idle connections are kept alive and reused.
    connections: null,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: c.upstreamHeadersTimeoutMs,
    // Event streams may stay quiet for long: their idle limit is not a body timeout.
    bodyTimeout: 0,
    // Only to a server that proves it is Ragie does the Ragie key go (undici checks certificates
    // by default; said here so that no default of another layer can turn it off).
    connect: { timeout: c.upstreamConnectTimeoutMs, rejectUnauthorized: true }
  }
  // A call's answer (POST, DELETE) that stops in the middle of its body would otherwise hold its
  // client and a connection to Ragie for ever: silent for longer than an event stream may be, it
  // is cut off (the client sees an incomplete answer, never a complete-looking one). An event
  // stream answering a call is ended cleanly by the registry below first, a second earlier.
  // Streams (GET) stay with the registry alone; a paused read (a slow client) never counts.
  const callBodyTimeout = c.sseIdleTimeoutSeconds === 0 ? 0 : c.sseIdleTimeoutSeconds * 1000 + CALL_BODY_MARGIN_MS
  const upstreamPools = createUpstreamPools(c.upstreamOrigin, pool, { bodyTimeout: callBodyTimeout })
  await fastify.register(replyFrom, {
    base: c.upstreamOrigin,
    disableRequestLogging: true,
    // Answered by our pools' own handler (lib/upstream-request.ts), on undici 8.
    undici: upstreamPools.forReplyFrom()
  })

  const streams = createStreamRegistry({
    keepAliveMs: c.sseKeepAliveSeconds * 1000,
    idleTimeoutMs: c.sseIdleTimeoutSeconds * 1000,
    // Longer than a request can wait to be answered: the checks (WorkOS with its retries), the
    // connection and Ragie's headers, with room to spare.
    rememberMs: Math.max(10 * 60_000, 2 * ((c.workosMaxRetries + 1) * c.workosTimeoutMs + c.upstreamConnectTimeoutMs + c.upstreamHeadersTimeoutMs))
  })

  let warnedEncoded = false

  // One set of reply-from options for every request: each callback gets the request, and finds
  // its destination on it, so no closures are made per request.
  fastify.decorateRequest('forwarding', null)
  fastify.decorateRequest('upstreamDispatch', null)
  const fromOptions: FastifyReplyFromHooks = {
    // reply-from decodes the source to look for `..` (anywhere, the query too: a 400; a malformed
    // escape: a throw, so a 500) and re-encodes it: the validated path goes as the source, and the
    // query, verbatim, beside it.
    queryString: (_search, _url, request) => destinationOf(request).query,
    // Never retried: an MCP request is not ours to repeat, and a 503 from Ragie passes as it is.
    retryDelay: () => null,
    // The request itself says where it came from (its ip, protocol and host): no object made for it.
    rewriteRequestHeaders: (request, headers) => {
      const destination = destinationOf(request)
      return withSession(upstreamRequestHeaders(headers, destination.apiKey, request), destination.sessionId)
    },
    // With an Origin, the gateway has set its own CORS headers and `Vary: Origin` (routes/tenant).
    rewriteHeaders: (headers, request) => bindSession(clientResponseHeaders(headers, request?.headers.origin === undefined ? undefined : 'Origin'), destinationOf(request as FastifyRequest), fastify.sessionBinder) as typeof headers,
    onResponse: (request, reply, raw) => {
      const res = raw as unknown as UpstreamResponse
      if (reply.statusCode === 401) return refused(reply, res)
      if (!isEventStream(res.headers['content-type'])) {
        reply.send(res.stream)
        return
      }
      // Ragie asked for `identity` and compressing all the same: the stream passes as sent, without
      // pings (text inserted into compressed bytes would break the whole stream).
      const keepAlive = !isEncoded(res.headers['content-encoding'])
      if (!keepAlive && !warnedEncoded) {
        warnedEncoded = true
        reply.log.warn({ contentEncoding: res.headers['content-encoding'] }, 'Ragie sent a compressed event stream although asked for none: such streams get no keep-alive pings (said once)')
      }
      // Fastify sends a streamed answer's headers with its first byte: a client whose event stream
      // Ragie has opened but not yet written to would have no answer until then (the first ping,
      // 25 s by default; never, without pings). They go as the stream is piped to the client, with
      // the first event if it came with them (`on`: a response is piped to once).
      reply.raw.on('pipe', flushHeadersSoon)
      // Admitted when the request came in: a revocation or reload since then ends it as it opens.
      reply.send(streams.track(res.stream as AnswerBody, destinationOf(request as FastifyRequest), (request as FastifyRequest).tenant?.admittedAt, keepAlive ? undefined : NO_PINGS))
    },
    onError: (reply, { error }) => {
      // The client left (and its upstream request was aborted for it): no one to answer, nothing
      // gone wrong upstream; its request line says 499.
      if (reply.raw.destroyed) return reply.send(clientClosed())
      if ((error as { cause?: unknown }).cause instanceof BodyTooLargeError) return reply.send(bodyTooLarge(c.bodyLimit))
      const code = (error as { code?: string }).code ?? ''
      const cause = (error as { cause?: { code?: string } }).cause?.code
      reply.log.warn({ code, cause }, 'upstream request failed')
      reply.send(TIMEOUT_CODES.has(code) || (cause !== undefined && TIMEOUT_CODES.has(cause))
        ? gatewayError('GW_UPSTREAM_TIMEOUT', 'the MCP server did not answer in time')
        : gatewayError('GW_UPSTREAM_UNREACHABLE', 'the MCP server could not be reached'))
    }
  }

  /**
   * Ragie refused the gateway's own key (Ragie never sees the user's token): passed on, the 401
   * would make every MCP client sign in again, in a loop. A 502 for the client, and a line for the
   * operator; nothing of Ragie's answer goes on.
   */
  function refused (reply: Parameters<NonNullable<FastifyReplyFromHooks['onResponse']>>[1], res: UpstreamResponse): void {
    if (!Buffer.isBuffer(res.stream)) res.stream.destroy()
    for (const name in res.headers) reply.removeHeader(name)
    // Among them, perhaps, names of the gateway's own CORS headers: the browser must read the 502.
    const origin = reply.request.headers.origin
    if (origin !== undefined) setCorsHeaders(reply, origin)
    reply.log.error({ partition: reply.request.tenant?.route?.partition }, 'Ragie refused the gateway\'s API key (401): check RAGIE_API_KEY, or the apiKeyEnv of this organization\'s mapping')
    reply.send(gatewayError('GW_UPSTREAM_REFUSED', 'the MCP server refused the gateway\'s credentials'))
  }

  function forward (request: FastifyRequest, reply: FastifyReply, destination: Destination): FastifyReply {
    request.forwarding = destination
    // SPEC §6: a client that disconnects aborts its upstream request, also while Ragie is still
    // working on it (reply-from alone only notices once Ragie answers). A response's 'close' comes
    // once: `on`, without the wrapper `once` makes on every request.
    const res = reply.raw
    res.on('close', () => { if (!res.writableFinished) abortDispatch(request) })
    upstreamPools.next = request
    try {
      return reply.from(destination.path, fromOptions)
    } finally {
      upstreamPools.next = null
    }
  }

  fastify.decorate('upstream', { forward, streams })

  // Whatever is still open when the app closes ends now (server.ts waits the grace period first).
  // By now no client connection is left to read an answer: what is still under way upstream is
  // dropped, not waited for (close() would wait on a slow call past the shutdown deadline).
  fastify.addHook('onClose', async () => {
    streams.endAll()
    await upstreamPools.destroy()
  })
}

export default fp(proxyPlugin, { name: 'proxy', fastify: '5.x', dependencies: ['config', 'session'] })
