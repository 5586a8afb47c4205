import fp from 'fastify-plugin'
import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { peekRpc } from '../lib/rpc-peek.ts'
import type { RpcSummary } from '../lib/rpc-peek.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON-RPC method and tool of a proxied request, read from the first bytes of its body. */
    rpcSummary: () => RpcSummary
  }
}

// Enough for any JSON-RPC envelope: the method and the tool name come first in practice.
const PEEK_BYTES = 8 * 1024

function nothing (): RpcSummary {
  return {}
}

/**
 * The audit side of the request log: for a request that passed every tenant check, the body is
 * watched as it streams to Ragie so the one log line per request (app.ts) can name the JSON-RPC
 * method and tool. Only the first 8 KiB are kept; nothing is buffered.
 */
async function auditPlugin (fastify: FastifyInstance): Promise<void> {
  fastify.decorateRequest('rpcSummary', nothing)
  fastify.addHook('preHandler', async function peekBody (request: FastifyRequest) {
    if (request.tenant?.destination === undefined || !(request.body instanceof Readable)) return
    const peek = peekRpc(request.body, PEEK_BYTES)
    request.body = peek.body
    request.rpcSummary = peek.summary
  })
}

export default fp(auditPlugin, { name: 'audit', fastify: '5.x', dependencies: ['config'] })
