import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import AutoLoad from '@fastify/autoload'
import Fastify, { LogController } from 'fastify'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import type { Config } from './lib/config.ts'
import { GatewayError, errorBody, errorCodes, gatewayError } from './lib/errors.ts'
import { createLogDestination } from './lib/log-destination.ts'
import { pinTickObjectShape } from './lib/tick-shape.ts'
import { REQUEST_COMPLETED, canWriteRequestLines, writeRequestLine } from './lib/request-log.ts'
import type { RequestLine } from './lib/request-log.ts'
import type { LogDestination } from './lib/log-destination.ts'
import type { GatewayOptions } from './plugins/config.ts'

export type { GatewayOptions }

/** The status of a request line: 499 (as nginx logs it) when the client left before any answer began. */
function lineStatus (reply: FastifyReply): number {
  return reply.raw.headersSent ? reply.statusCode : errorCodes.GW_CLIENT_CLOSED.statusCode
}

/** The latency of a request line, in ms to a tenth. */
function lineMs (reply: FastifyReply): number {
  return Math.round(reply.elapsedTime * 10) / 10
}

/** A URL the router cannot decode (`%zz`) never reaches the error handler: same JSON body, no echo. */
function routerError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // Answered before any route or hook: the request line is written here (SPEC §7: one per request).
  reply.raw.once('close', () => {
    request.log.info({ method: request.method, route: '(not found)', status: lineStatus(reply), ms: lineMs(reply) }, REQUEST_COMPLETED)
  })
  // A path segment longer than any route's parameter may be (an organization id is at most 68
  // characters) names nothing here: 404, as any other unknown path.
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    reply.code(404).send(errorBody('not_found', 'no such resource'))
    return
  }
  const status = error.statusCode === 400 ? 400 : 500
  reply.code(status).send(status === 400
    ? errorBody('bad_request', 'the request URL is malformed')
    : errorBody('internal_error', 'the gateway could not process the request'))
}

/**
 * A request Node's HTTP parser refuses (a control character in the URL, headers too large) never
 * reaches Fastify: it gets the same JSON body shape, then the connection is closed.
 */
function clientError (err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) return
  // A bad request pipelined behind one still being answered (an event stream, say): an answer
  // written now would land inside that one's body. The connection just closes, as Node's own does.
  if ((socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage?.headersSent === true) {
    socket.destroy()
    return
  }
  const [status, reason, error] = err.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'Request Header Fields Too Large', 'request_header_fields_too_large']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'request_timeout'] : [400, 'Bad Request', 'bad_request']
  const body = JSON.stringify(errorBody(error, 'the request could not be parsed'))
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}

/**
 * Fastify options the gateway expects. `fastify start -o app.ts` passes them both to Fastify and,
 * as plugin options, to the plugins: `exitOnConfigError` is theirs, Fastify ignores it.
 */
export const options: FastifyServerOptions & { exitOnConfigError: boolean } = {
  exitOnConfigError: true,
  // One line per request, written below, without the raw URL.
  logController: new LogController({ disableRequestLogging: true }),
  // Answered by the gateway itself while closing (below): its JSON error, a Retry-After, a log line.
  return503OnClosing: false,
  frameworkErrors: routerError,
  clientErrorHandler: clientError,
  logger: {
    redact: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["proxy-authorization"]']
  }
}

const STATUS_ERRORS: Record<number, string> = {
  400: 'bad_request',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  431: 'request_header_fields_too_large',
  503: 'temporarily_unavailable'
}

/**
 * The gateway as one Fastify plugin: the error and not-found handlers, plugins/ (one concern
 * each), routes/, and the request log. Register it in any Fastify app, or run it with
 * `fastify start -o app.ts`.
 */
export default async function gateway (fastify: FastifyInstance, opts: GatewayOptions): Promise<void> {
  // For `fastify start app.ts` and a host's app (server.ts has done it already): lib/tick-shape.ts.
  pinTickObjectShape()
  // Set before the plugins and routes load: a route keeps the error handler its context had when
  // it was added, so one set afterwards would never see the errors its hooks throw.
  fastify.setErrorHandler(function (error: FastifyError | GatewayError, request, reply) {
    if (error instanceof GatewayError) {
      reply.headers(error.headers)
      if (error.statusCode >= 500 && error.code !== 'GW_SHUTTING_DOWN') request.log.warn({ code: error.code }, error.message)
      return reply.code(error.statusCode).send(errorBody(error.error, error.message))
    }
    const status = error.statusCode ?? 500
    if (status >= 400 && status < 500) {
      // Fastify's own client errors (body too large, bad content type) have safe messages.
      const description = error.code?.startsWith('FST_') === true ? error.message : 'the request could not be processed'
      return reply.code(status).send(errorBody(STATUS_ERRORS[status] ?? 'bad_request', description))
    }
    // A client that left before its answer began (its socket is gone) is not a gateway failure.
    if (reply.raw.destroyed) request.log.info({ code: error.code }, 'client closed the connection before the answer')
    else request.log.error({ err: error }, 'request failed')
    return reply.code(500).send(errorBody('internal_error', 'the gateway could not process the request'))
  })

  fastify.setNotFoundHandler(function (_request, reply) {
    return reply.code(404).send(errorBody('not_found', 'no such resource'))
  })

  // Also the audit log: for an MCP request, the partition and the JSON-RPC method and tool. With
  // the logger createServer made, the line is written directly (lib/request-log.ts); a logger of
  // someone else's app gets it through log.info, whatever its options.
  const direct = opts.directRequestLog === true && canWriteRequestLines(fastify.log)
  function logRequest (request: FastifyRequest, reply: FastifyReply): void {
    const rpc = request.rpcSummary()
    const tenant = request.tenant
    const line: RequestLine = {
      method: request.method,
      route: request.routeOptions.url ?? '(not found)',
      org: tenant?.path.org,
      user: tenant?.userId,
      // Only for a request that passed every check and went to Ragie (not a 403, 404 or 429 after
      // the partition was known): a refusal must not read as audited access to a partition.
      partition: request.forwarding?.partition,
      rpcMethod: rpc.method,
      tool: rpc.tool,
      status: lineStatus(reply),
      ms: lineMs(reply)
    }
    if (direct) writeRequestLine(request.log, line)
    else request.log.info(line, REQUEST_COMPLETED)
  }

  // Written when the response closes, not from Fastify's onResponse: that runs only for an answer
  // that finished, so a request whose client left first got no line at all (SPEC §7: one line per
  // request). Every MCP client ends its event stream that way. A response's 'close' comes once,
  // either way. Added before the plugins and routes, so that it runs before any check can refuse
  // the request. A callback hook, not an async one: no promise and no extra tick on every request.
  // Once the app is closing, a request that still arrives (pipelined, or on a keep-alive
  // connection not yet idle) gets a 503 at once, to be retried on another instance: Fastify's own
  // answer would carry neither the gateway's error shape nor a Retry-After, nor a request line.
  let closing = false
  fastify.addHook('preClose', async () => { closing = true })
  fastify.addHook('onRequest', function logOnClose (request, reply, done) {
    // A pino logger set above info writes no line: then there is nothing to gather for one.
    const log = request.log as typeof request.log & { isLevelEnabled?: (level: string) => boolean }
    if (typeof log.isLevelEnabled !== 'function' || log.isLevelEnabled('info')) reply.raw.on('close', () => { logRequest(request, reply) })
    if (closing) return done(gatewayError('GW_SHUTTING_DOWN', 'the gateway is shutting down, retry', { 'retry-after': '1', connection: 'close' }))
    done()
  })

  await fastify.register(AutoLoad, {
    dir: join(import.meta.dirname, 'plugins'),
    options: opts,
    ignorePattern: /README/
  })

  await fastify.register(AutoLoad, {
    dir: join(import.meta.dirname, 'routes'),
    options: opts,
    autoHooks: true,
    cascadeHooks: true,
    dirNameRoutePrefix: false,
    ignorePattern: /README/
  })
}

let productionLog: LogDestination | undefined

/**
 * The logger of a standalone gateway: JSON in production, pino-pretty otherwise. Production lines
 * are gathered and written 16 KiB at a time (about fifty lines a write), and at least every
 * 250 ms, on the event loop's own thread (lib/log-destination.ts): on these virtual machines a
 * system call costs several µs, and one write per request line cost as much as the rest of the
 * line. Written out when the process exits, a crash included; only a SIGKILL can lose the last
 * 250 ms of lines.
 */
function loggerFor (config: Config): FastifyServerOptions['logger'] {
  const base = { ...(options.logger as Record<string, unknown>), level: config.logLevel }
  if (!config.production) return { ...base, transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY } } }
  if (productionLog === undefined) {
    const destination = createLogDestination({
      fd: 1,
      onError: err => { process.stderr.write(`log lines could not be written to stdout (${err.code ?? err.message}); some are lost\n`) }
    })
    process.on('exit', () => { destination.flushSync() })
    productionLog = destination
  }
  return { ...base, stream: productionLog }
}

/**
 * A Fastify server running the gateway as `server.ts` (and the sandbox) start it: the options
 * above, the logger for `config` (or the one given), trust in proxies as configured.
 */
export function createServer (config: Config, env: Record<string, string | undefined>, logger?: FastifyServerOptions['logger']): FastifyInstance {
  const fastify = Fastify({ ...options, logger: logger ?? loggerFor(config), trustProxy: config.trustProxy })
  fastify.register(gateway, { config, env, directRequestLog: logger === undefined })
  return fastify
}
