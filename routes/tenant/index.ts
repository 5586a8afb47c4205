import type { FastifyPluginAsync } from 'fastify'
import type { Destination } from '../../plugins/proxy.ts'
import type { TenantState } from './autohooks.ts'

const TENANT_ROUTES = ['/:org/mcp', '/:org/mcp/*']

/**
 * The tenant proxy: `/<org>/mcp[/<rest>]` to Ragie's `/mcp/<partition>/[<rest>]`. The checks are
 * this folder's autohooks; bodies are never parsed, the raw stream is handed to the proxy.
 */
const tenant: FastifyPluginAsync = async function (fastify) {
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', function (_request, payload, done) {
    done(null, payload)
  })

  for (const url of TENANT_ROUTES) {
    fastify.route({
      method: ['GET', 'POST', 'DELETE'],
      url,
      handler: async function (request, reply) {
        return fastify.upstream.forward(request, reply, (request.tenant as TenantState).destination as Destination)
      }
    })
  }
}

export default tenant
