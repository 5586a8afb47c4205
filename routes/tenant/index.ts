import type { FastifyPluginAsync } from 'fastify'
import type { Destination } from '../../plugins/proxy.ts'
import type { TenantState } from './autohooks.ts'
import { bodyTooLarge, declaredTooLarge } from '../../lib/limits.ts'
import { tapBody, watchBody } from '../../lib/body-watch.ts'
import { PEEK_BYTES } from '../../lib/rpc-peek.ts'

const TENANT_ROUTES = ['/:org/mcp', '/:org/mcp/*']

/**
 * The tenant proxy: `/<org>/mcp[/<rest>]` to Ragie's `/mcp/<partition>/[<rest>]`. The checks are
 * this folder's autohooks; bodies are never parsed, the raw stream is handed to the proxy.
 */
const tenant: FastifyPluginAsync = async function (fastify) {
  const limit = fastify.config.bodyLimit
  fastify.removeAllContentTypeParsers()
  // Parsers run after every check of autohooks.ts: a body is only read for a verified member.
  fastify.addContentTypeParser('*', function (request, payload, done) {
    if (declaredTooLarge(request.headers['content-length'], limit)) return done(bodyTooLarge(limit))
    // The first bytes are kept for the audit log line. A declared length is already checked; a
    // chunked body declares none, so a pass-through counts its bytes against the limit.
    const watched = request.headers['content-length'] !== undefined
      ? tapBody(payload, PEEK_BYTES)
      : watchBody(payload, { limit, keep: PEEK_BYTES })
    request.bodyHead = watched.head
    done(null, watched.body)
  })

  for (const url of TENANT_ROUTES) {
    fastify.route({
      method: ['GET', 'POST', 'DELETE'],
      url,
      // MCP uses GET, POST and DELETE; an automatic HEAD route would be one more way to Ragie.
      exposeHeadRoute: false,
      // Not async: the reply is returned as it is, with no promise made for it on every request.
      handler: function (request, reply) {
        // Fastify reads no body for a GET, so the parser above never sees one: a GET declaring a
        // body over the limit is refused alike (the body is never read, nor sent to Ragie).
        if (request.method === 'GET' && declaredTooLarge(request.headers['content-length'], limit)) return reply.send(bodyTooLarge(limit))
        return fastify.upstream.forward(request, reply, (request.tenant as TenantState).destination as Destination)
      }
    })
  }
}

export default tenant
