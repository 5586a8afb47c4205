import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { protectedResourceMetadata } from '../lib/metadata.ts'
import { ORG_PATTERN, tenantResource } from '../lib/paths.ts'
import { gatewayError } from '../lib/errors.ts'
import { allowedRequestHeaders } from '../lib/cors.ts'
import { DISCOVERY_DOCUMENTS } from '../plugins/authorization-server.ts'

const ErrorSchema = Type.Object({ error: Type.String(), error_description: Type.String() })

const ProtectedResourceSchema = Type.Object({
  resource: Type.String(),
  authorization_servers: Type.Array(Type.String()),
  bearer_methods_supported: Type.Array(Type.String()),
  resource_name: Type.String(),
  scopes_supported: Type.Optional(Type.Array(Type.String())),
  resource_documentation: Type.Optional(Type.String())
})

const AuthServerSchema = Type.Object({ issuer: Type.String() }, { additionalProperties: true })

const TenantParamsSchema = Type.Object({ org: Type.String() })

/**
 * Discovery documents are public and read by browser clients: open to any origin, their errors
 * too (a browser client must be able to read a 503 and its Retry-After, or a 404).
 */
function openToAll (reply: FastifyReply): FastifyReply {
  return reply.header('access-control-allow-origin', '*')
}

/** A document (never an error) may be cached. */
function cacheable (reply: FastifyReply, maxAge: number): FastifyReply {
  return reply.header('cache-control', `public, max-age=${maxAge}`)
}

/** OAuth discovery: RFC 9728 protected resource metadata, and AuthKit's own documents. */
const wellKnown: FastifyPluginAsyncTypebox = async function (fastify) {
  const c = fastify.config
  const metadataOptions = { issuer: c.issuer, resourceName: c.resourceName, resourceDocumentation: c.resourceDocumentation, scopesSupported: c.scopesSupported }

  fastify.get('/.well-known/oauth-protected-resource', {
    schema: { response: { 200: ProtectedResourceSchema } }
  }, async function (_request, reply) {
    cacheable(openToAll(reply), 3600)
    return protectedResourceMetadata(c.baseUrl, metadataOptions)
  })

  fastify.get('/.well-known/oauth-protected-resource/:org/mcp', {
    schema: { params: TenantParamsSchema, response: { 200: ProtectedResourceSchema, 404: ErrorSchema } }
  }, async function (request, reply) {
    const { org } = request.params
    openToAll(reply)
    if (!ORG_PATTERN.test(org)) throw gatewayError('GW_NOT_FOUND', 'no such resource')
    cacheable(reply, 3600)
    return protectedResourceMetadata(tenantResource(c.baseUrl, org), metadataOptions)
  })

  for (const name of DISCOVERY_DOCUMENTS) {
    const handler = async function (_request: unknown, reply: FastifyReply) {
      openToAll(reply)
      const doc = await fastify.authServerMetadata[name].get()
      cacheable(reply, 300)
      return doc
    }
    const schema = { response: { 200: AuthServerSchema, 503: ErrorSchema } }
    fastify.get(`/.well-known/${name}`, { schema }, handler)
    fastify.get(`/.well-known/${name}/*`, { schema }, handler)
  }

  fastify.options('/.well-known/*', async function (request, reply) {
    reply
      .header('access-control-allow-origin', '*')
      .header('access-control-allow-methods', 'GET, OPTIONS')
      .header('access-control-allow-headers', allowedRequestHeaders(request.headers['access-control-request-headers']))
      .header('access-control-max-age', '86400')
      .code(204)
  })
}

export default wellKnown
