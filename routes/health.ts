import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { gatewayError } from '../lib/errors.ts'

const StatusSchema = Type.Object({ status: Type.String() })
const ErrorSchema = Type.Object({ error: Type.String(), error_description: Type.String() })

/** Liveness, and readiness: configuration loaded and AuthKit's keys fetched at least once. */
const health: FastifyPluginAsyncTypebox = async function (fastify) {
  fastify.get('/healthz', { schema: { response: { 200: StatusSchema } } }, async function () {
    return { status: 'ok' }
  })

  fastify.get('/readyz', { schema: { response: { 200: StatusSchema, 503: ErrorSchema } } }, async function () {
    if (!fastify.keyStore.ready) {
      // Each probe is also a retry, within the key store's single flight and its 2 s backoff
      // after a failure: a loop of probes (anyone can send them) drives no loop of fetches.
      await fastify.keyStore.retry().catch(() => {})
      if (!fastify.keyStore.ready) throw gatewayError('GW_NOT_READY', 'the signing keys have not been fetched yet')
    }
    return { status: 'ready' }
  })
}

export default health
