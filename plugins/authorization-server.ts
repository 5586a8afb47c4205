import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createAuthServerMetadata } from '../lib/metadata.ts'
import type { AuthServerMetadata } from '../lib/metadata.ts'

export const DISCOVERY_DOCUMENTS = ['oauth-authorization-server', 'openid-configuration'] as const
export type DiscoveryDocument = typeof DISCOVERY_DOCUMENTS[number]

declare module 'fastify' {
  interface FastifyInstance {
    authServerMetadata: Record<DiscoveryDocument, AuthServerMetadata>
  }
}

/** AuthKit's own discovery documents, fetched with a timeout and cached; `fastify.authServerMetadata`. */
async function authorizationServerPlugin (fastify: FastifyInstance): Promise<void> {
  const c = fastify.config
  const documents = {} as Record<DiscoveryDocument, AuthServerMetadata>
  for (const name of DISCOVERY_DOCUMENTS) {
    documents[name] = createAuthServerMetadata({
      url: `${c.issuer}/.well-known/${name}`,
      timeoutMs: c.metadataTimeoutMs,
      ttlMs: c.metadataCacheSeconds * 1000,
      retryAfterSeconds: c.retryAfterSeconds
    })
  }
  fastify.decorate('authServerMetadata', documents)
}

export default fp(authorizationServerPlugin, { name: 'authorization-server', fastify: '5.x', dependencies: ['config'] })
