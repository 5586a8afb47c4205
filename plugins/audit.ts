import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { FastifyRequest } from 'fastify'
import { summarize } from '../lib/rpc-peek.ts'
import type { RpcSummary } from '../lib/rpc-peek.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON-RPC method and tool of a proxied request, read from the first bytes of its body. */
    rpcSummary: () => RpcSummary
    /** The first bytes of the body, as the proxy reads it; null until a body is read. */
    bodyHead: (() => Buffer) | null
  }
}

const NOTHING: RpcSummary = Object.freeze({})

function rpcSummary (this: FastifyRequest): RpcSummary {
  return this.bodyHead === null ? NOTHING : summarize(this.bodyHead())
}

/**
 * The audit side of the request log: `request.rpcSummary()` names the JSON-RPC method and tool of
 * a proxied request for the one log line per request (app.ts), from `request.bodyHead`: the first
 * 8 KiB of the body, which the tenant route's body parser copies as the body streams to Ragie
 * (routes/tenant/index.ts), only for a request that passed every check; nothing is buffered.
 */
async function auditPlugin (fastify: FastifyInstance): Promise<void> {
  // A field every request has from the start (null), set by the body parser: adding a property to
  // a request as it goes would give the requests that get one another shape, and slow every
  // access to them down the line.
  fastify.decorateRequest('bodyHead', null)
  fastify.decorateRequest('rpcSummary', rpcSummary)
}

export default fp(auditPlugin, { name: 'audit', fastify: '5.x', dependencies: ['config'] })
