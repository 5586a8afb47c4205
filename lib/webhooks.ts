import type { WorkOS } from '@workos-inc/node'
import type { Eviction } from './membership-store.ts'

/** The events after which a cached membership may be wrong: a membership gone or changed, a user gone. */
export const REVOKING_EVENTS = ['organization_membership.deleted', 'organization_membership.updated', 'user.deleted'] as const

/** A webhook whose signature or timestamp does not check out: refused, nothing changed. */
export class WebhookSignatureError extends Error {
  constructor () {
    super('the webhook signature is not valid')
    this.name = 'WebhookSignatureError'
  }
}

export interface WebhookVerifier {
  /**
   * Verifies the raw body against the `WorkOS-Signature` header (the SDK's check: HMAC-SHA256
   * with the secret, timestamp within tolerance) and names what to evict, or null for an event
   * that changes no membership. Throws a WebhookSignatureError when the signature is not valid.
   */
  verify: (rawBody: string, signature: string | undefined) => Promise<Eviction | null>
}

/** A verifier for one endpoint secret, using the official SDK's webhook verification. */
export function createWebhookVerifier (workos: WorkOS, secret: string): WebhookVerifier {
  return {
    async verify (rawBody, signature) {
      if (signature === undefined || signature === '') throw new WebhookSignatureError()
      let event
      try {
        event = await workos.webhooks.constructEvent({ payload: rawBody, sigHeader: signature, secret })
      } catch {
        // A bad signature, a stale timestamp or a body that is not JSON: none is to be trusted.
        throw new WebhookSignatureError()
      }
      return evictionOf(event as { event: string, data: Record<string, unknown> })
    }
  }
}

function evictionOf (event: { event: string, data: Record<string, unknown> }): Eviction | null {
  const data = event.data ?? {}
  if (event.event === 'user.deleted' && typeof data.id === 'string') return { userId: data.id }
  if ((event.event === 'organization_membership.deleted' || event.event === 'organization_membership.updated') &&
    typeof data.userId === 'string' && typeof data.organizationId === 'string') {
    return { userId: data.userId, organizationId: data.organizationId }
  }
  return null
}
