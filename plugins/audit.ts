import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { RpcSummary } from '../lib/rpc-peek.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON-RPC method and tool of a proxied request, read from the first bytes of its body. */
    rpcSummary: () => RpcSummary
  }
}

function nothing (): RpcSummary {
  return {}
}

/**
 * The audit side of the request log: `request.rpcSummary()` names the JSON-RPC method and tool of
 * a proxied request for the one log line per request (app.ts). The tenant route's body parser
 * sets it from the first 8 KiB of the body as it streams to Ragie (routes/tenant/index.ts), only
 * for a request that passed every check; nothing is buffered.
 */
async function auditPlugin (fastify: FastifyInstance): Promise<void> {
  fastify.decorateRequest('rpcSummary', nothing)
}

export default fp(auditPlugin, { name: 'audit', fastify: '5.x', dependencies: ['config'] })
