import { join } from 'node:path'
import AutoLoad from '@fastify/autoload'
import { LogController } from 'fastify'
import type { FastifyError, FastifyInstance, FastifyServerOptions } from 'fastify'
import { GatewayError, errorBody } from './lib/errors.ts'
import type { GatewayOptions } from './plugins/config.ts'

export type { GatewayOptions }

/**
 * Fastify options the gateway expects. `fastify start -o app.ts` passes them both to Fastify and,
 * as plugin options, to the plugins: `exitOnConfigError` is theirs, Fastify ignores it.
 */
export const options: FastifyServerOptions & { exitOnConfigError: boolean } = {
  exitOnConfigError: true,
  // One line per request, written below, without the raw URL.
  logController: new LogController({ disableRequestLogging: true }),
  return503OnClosing: true,
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
 * The gateway as one Fastify plugin: plugins/ (one concern each), then routes/, then the error,
 * not-found and request-log handlers. Register it in any Fastify app, or run it with
 * `fastify start -o app.ts`.
 */
export default async function gateway (fastify: FastifyInstance, opts: GatewayOptions): Promise<void> {
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

  fastify.setErrorHandler(function (error: FastifyError | GatewayError, request, reply) {
    if (error instanceof GatewayError) {
      reply.headers(error.headers)
      if (error.statusCode >= 500) request.log.warn({ code: error.code }, error.message)
      return reply.code(error.statusCode).send(errorBody(error.error, error.message))
    }
    const status = error.statusCode ?? 500
    if (status >= 400 && status < 500) {
      // Fastify's own client errors (body too large, bad content type) have safe messages.
      const description = error.code?.startsWith('FST_') === true ? error.message : 'the request could not be processed'
      return reply.code(status).send(errorBody(STATUS_ERRORS[status] ?? 'bad_request', description))
    }
    request.log.error({ err: error }, 'request failed')
    return reply.code(500).send(errorBody('internal_error', 'the gateway could not process the request'))
  })

  fastify.setNotFoundHandler(function (_request, reply) {
    return reply.code(404).send(errorBody('not_found', 'no such resource'))
  })

  fastify.addHook('onResponse', async function logRequest (request, reply) {
    request.log.info({
      method: request.method,
      route: request.routeOptions.url ?? '(not found)',
      org: request.tenant?.path.org,
      user: request.tenant?.userId,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10
    }, 'request completed')
  })
}
