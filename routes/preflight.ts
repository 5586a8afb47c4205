import type { FastifyPluginAsync } from 'fastify'
import { ALLOWED_METHODS, EXPOSED_HEADERS, allowedRequestHeaders, originAllowed } from '../lib/cors.ts'
import { gatewayError } from '../lib/errors.ts'
import { parseTenantPath } from '../lib/paths.ts'

/** CORS preflight for the tenant routes: no token is sent with a preflight, so none is asked. */
const preflight: FastifyPluginAsync = async function (fastify) {
  const { allowedOrigins } = fastify.config
  for (const url of ['/:org/mcp', '/:org/mcp/*']) {
    fastify.options(url, async function (request, reply) {
      // The same path rule as the tenant routes: anything else is a 404, as any other path.
      if (parseTenantPath(request.raw.url ?? '') === null) throw gatewayError('GW_NOT_FOUND', 'no such resource')
      const origin = request.headers.origin
      if (!originAllowed(origin, allowedOrigins)) throw gatewayError('GW_ORIGIN_FORBIDDEN', 'this origin may not call the gateway')
      if (origin !== undefined) {
        reply.header('access-control-allow-origin', origin).header('vary', 'Origin')
      }
      reply
        .header('access-control-allow-methods', ALLOWED_METHODS)
        .header('access-control-allow-headers', allowedRequestHeaders(request.headers['access-control-request-headers']))
        .header('access-control-expose-headers', EXPOSED_HEADERS)
        .header('access-control-max-age', '600')
        .code(204)
    })
  }
}

export default preflight
