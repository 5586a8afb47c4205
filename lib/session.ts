import { createHmac, timingSafeEqual } from 'node:crypto'

// A version prefix, so the format can change without old ids being misread.
const PREFIX = 'g2.'
// Longest client-side id taken into account: an upstream id of 256 characters, wrapped, fits.
const MAX_CLIENT_ID_LENGTH = 512
const MAX_UPSTREAM_ID_LENGTH = 256
// Mcp-Session-Id may only hold visible ASCII (MCP spec, Streamable HTTP).
const VISIBLE_ASCII = /^[\x21-\x7e]+$/

/**
 * Who a session belongs to: the token's user in the URL's organization, and where it lives at
 * Ragie, the partition and the key it was created with. A mapping reload that moves the
 * organization to another partition or key thus ends its sessions (404: the client starts a new
 * one) rather than send them, with their old ids, to the new place.
 */
export interface SessionOwner {
  userId: string
  org: string
  partition: string
  apiKey: string
}

/**
 * Ties Ragie's `Mcp-Session-Id` to one (user, organization). Ragie only ever sees the gateway's
 * key, so it cannot tell users apart: the client gets `g2.<upstream id>.<HMAC>` instead, and any
 * instance holding the same secret can check it without shared storage.
 */
export interface SessionBinder {
  /** The id the client sees for an upstream session created by `owner`; null if the upstream id is unusable. */
  wrap: (upstreamId: string, owner: SessionOwner) => string | null
  /** The upstream id inside a client's id, or null when it is malformed, forged or someone else's. */
  unwrap: (clientId: string, owner: SessionOwner) => string | null
}

function mac (secret: Buffer, upstreamId: string, owner: SessionOwner): Buffer {
  // NUL separators: none of the parts can hold one (ids, partition names, environment values),
  // so no two owners sign the same bytes. The key is only hashed in: nothing of it comes out.
  return createHmac('sha256', secret).update(`${PREFIX}\u0000${owner.userId}\u0000${owner.org}\u0000${owner.partition}\u0000${owner.apiKey}\u0000${upstreamId}`).digest()
}

/**
 * Creates a binder keyed by `secret` (SESSION_SECRET, or random bytes per start). Ids bound with a
 * `previous` secret (SESSION_SECRET_PREVIOUS, during a rotation) are still accepted; new ones are
 * always bound with `secret`.
 */
export function createSessionBinder (secret: Buffer, previous: readonly Buffer[] = []): SessionBinder {
  const accepted = [secret, ...previous]
  return {
    wrap (upstreamId, owner) {
      if (upstreamId.length > MAX_UPSTREAM_ID_LENGTH || !VISIBLE_ASCII.test(upstreamId)) return null
      return `${PREFIX}${Buffer.from(upstreamId).toString('base64url')}.${mac(secret, upstreamId, owner).toString('base64url')}`
    },
    unwrap (clientId, owner) {
      if (clientId.length > MAX_CLIENT_ID_LENGTH || !clientId.startsWith(PREFIX)) return null
      const parts = clientId.slice(PREFIX.length).split('.')
      if (parts.length !== 2) return null
      const upstreamId = Buffer.from(parts[0], 'base64url').toString('latin1')
      // base64url decoding is lenient: only the canonical spelling of an id is accepted.
      if (upstreamId.length === 0 || Buffer.from(upstreamId, 'latin1').toString('base64url') !== parts[0] || !VISIBLE_ASCII.test(upstreamId)) return null
      const given = Buffer.from(parts[1], 'base64url')
      // The MAC too: its last character carries two unused bits, so four spellings would decode to
      // the same bytes. (A check of the input alone: it tells nothing of the secret.)
      if (given.toString('base64url') !== parts[1]) return null
      for (const key of accepted) {
        const expected = mac(key, upstreamId, owner)
        if (given.length === expected.length && timingSafeEqual(given, expected)) return upstreamId
      }
      return null
    }
  }
}
