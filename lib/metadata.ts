import { gatewayError } from './errors.ts'
import { fetchJson } from './fetch-json.ts'

export interface ResourceMetadataOptions {
  issuer: string
  resourceName: string
  resourceDocumentation: string | undefined
  scopesSupported: readonly string[]
}

/** RFC 9728 protected resource metadata. */
export interface ProtectedResourceMetadata {
  resource: string
  authorization_servers: string[]
  bearer_methods_supported: string[]
  resource_name: string
  scopes_supported?: string[]
  resource_documentation?: string
}

/** An authorization server's metadata document, as AuthKit serves it. */
export interface AuthServerDocument {
  issuer: string
  [field: string]: unknown
}

/** RFC 9728 protected resource metadata for one resource URL. */
export function protectedResourceMetadata (resource: string, opts: ResourceMetadataOptions): ProtectedResourceMetadata {
  const doc: ProtectedResourceMetadata = {
    resource,
    authorization_servers: [opts.issuer],
    bearer_methods_supported: ['header'],
    resource_name: opts.resourceName
  }
  if (opts.scopesSupported.length > 0) doc.scopes_supported = [...opts.scopesSupported]
  if (opts.resourceDocumentation !== undefined) doc.resource_documentation = opts.resourceDocumentation
  return doc
}

export interface AuthServerMetadataOptions {
  /** The URL of AuthKit's own document. */
  url: string
  timeoutMs: number
  ttlMs: number
  /** The Retry-After of the 503 when there is no copy to serve (RETRY_AFTER_SECONDS); 5 by default. */
  retryAfterSeconds?: number
  fetch?: typeof fetch
  now?: () => number
}

export interface AuthServerMetadata {
  /** AuthKit's document: fresh, else the last good copy; throws GW_METADATA_UNAVAILABLE when none. */
  get: () => Promise<AuthServerDocument>
}

const FAILURE_BACKOFF_MS = 2000

function unavailable (retryAfterSeconds: number): Error {
  return gatewayError('GW_METADATA_UNAVAILABLE', 'the authorization server metadata is unavailable, try again later', { 'retry-after': String(retryAfterSeconds) })
}

/**
 * Fetches AuthKit's authorization server metadata with a timeout, caches it for `ttlMs`, serves
 * the last good copy when AuthKit fails, and never mistakes an error body for the document.
 */
export function createAuthServerMetadata (opts: AuthServerMetadataOptions): AuthServerMetadata {
  const doFetch = opts.fetch ?? fetch
  const now = opts.now ?? Date.now
  const retryAfter = opts.retryAfterSeconds ?? 5
  let good: AuthServerDocument | null = null
  let fetchedAt = -Infinity
  let inflight: Promise<AuthServerDocument> | null = null
  // With no good copy yet, a failure is the answer for FAILURE_BACKOFF_MS: these documents are
  // public, and a loop of requests must not drive a loop of fetches to AuthKit.
  let failedAt = -Infinity

  async function load (): Promise<AuthServerDocument> {
    try {
      const doc = await fetchJson(doFetch, opts.url, opts.timeoutMs)
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || typeof (doc as { issuer?: unknown }).issuer !== 'string') {
        throw new Error('not a metadata document')
      }
      good = doc as AuthServerDocument
      fetchedAt = now()
      return good
    } catch {
      // Keep the old copy, but retry it no sooner than a tenth of the TTL.
      if (good !== null) {
        fetchedAt = now() - opts.ttlMs * 0.9
        return good
      }
      failedAt = now()
      throw unavailable(retryAfter)
    }
  }

  return {
    async get () {
      if (good !== null && now() - fetchedAt < opts.ttlMs) return good
      if (good === null && now() - failedAt < FAILURE_BACKOFF_MS) throw unavailable(retryAfter)
      inflight ??= load().finally(() => { inflight = null })
      return inflight
    }
  }
}
