import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { createWebhookVerifier, WebhookSignatureError } from '../lib/webhooks.ts'
import { createWorkosClient } from '../lib/workos.ts'
import { gatewayError } from '../lib/errors.ts'

const ReceivedSchema = Type.Object({ received: Type.Boolean(), evicted: Type.Boolean() })
const ErrorSchema = Type.Object({ error: Type.String(), error_description: Type.String() })

// WorkOS events are small; anything near this is not one of them.
const WEBHOOK_BODY_LIMIT = 256 * 1024

/**
 * `POST /webhooks/workos`: instant revocation. A verified membership or user event evicts the
 * cached membership on every instance. Without `WORKOS_WEBHOOK_SECRET` the route does not exist.
 */
const webhooks: FastifyPluginAsyncTypebox = async function (fastify) {
  const c = fastify.config
  if (c.workosWebhookSecret === undefined) return
  const verifier = createWebhookVerifier(
    createWorkosClient({ apiKey: c.workosApiKey, apiUrl: c.workosApiUrl, timeoutMs: c.workosTimeoutMs, maxRetries: c.workosMaxRetries }),
    c.workosWebhookSecret
  )

  // The signature covers the bytes as sent: the body is kept as a string, never re-serialised.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: WEBHOOK_BODY_LIMIT }, function (_request, body, done) {
    done(null, body)
  })

  fastify.post('/webhooks/workos', {
    schema: { response: { 200: ReceivedSchema, 401: ErrorSchema, 503: ErrorSchema } }
  }, async function (request) {
    const signature = request.headers['workos-signature']
    let eviction
    try {
      eviction = await verifier.verify(typeof request.body === 'string' ? request.body : '', typeof signature === 'string' ? signature : undefined)
    } catch (err) {
      if (err instanceof WebhookSignatureError) throw gatewayError('GW_WEBHOOK_SIGNATURE', err.message)
      throw err
    }
    if (eviction === null) return { received: true, evicted: false }
    try {
      await fastify.membership.revoke(eviction)
    } catch (err) {
      // WorkOS retries an event that did not get a 2xx: the eviction is not lost.
      request.log.error({ reason: (err as Error).message }, 'revocation not published')
      throw gatewayError('GW_REVOCATION_UNAVAILABLE', 'the revocation could not be shared, retry later', { 'retry-after': String(c.retryAfterSeconds) })
    }
    request.log.info({ user: eviction.userId, org: eviction.organizationId }, 'membership revoked')
    return { received: true, evicted: true }
  })
}

export default webhooks
