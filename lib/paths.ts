/** An organization id as WorkOS issues them; nothing that could bend a path gets through. */
export const ORG_PATTERN = /^org_[A-Za-z0-9]{1,64}$/

// Raw or percent-encoded: C0 controls and DEL.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/
const ENCODED_SEPARATOR = /%(2f|5c)/i
// The usual URL, `/<org>/mcp` or `/<org>/mcp/` with no query: letters and digits, nothing to
// decode or check further.
const PLAIN = /^\/(org_[A-Za-z0-9]{1,64})\/mcp\/?$/

/** The parts of a tenant URL, validated: `rest` and `query` keep the client's own encoding. */
export interface TenantPath {
  org: string
  rest: string
  query: string
}

/**
 * Parses `/<org>/mcp[/<rest>][?query]` from the raw request URL. Returns null (a 404) for any org
 * that is not an organization id, and any rest with a dot segment, an encoded separator, a control
 * character, or a percent sign left after decoding, so the upstream path cannot leave
 * `/mcp/<partition>/`.
 */
export function parseTenantPath (rawUrl: string): TenantPath | null {
  const plain = PLAIN.exec(rawUrl)
  if (plain !== null) return { org: plain[1], rest: '', query: '' }
  const q = rawUrl.indexOf('?')
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q)
  const query = q === -1 ? '' : withoutCredentials(rawUrl.slice(q))
  if (path[0] !== '/' || rawUrl.includes('#') || CONTROL.test(rawUrl)) return null
  const segments = path.slice(1).split('/')
  const org = decodeSegment(segments[0])
  if (org === null || !ORG_PATTERN.test(org)) return null
  if (segments[1] !== 'mcp') return null
  const rest = segments.slice(2)
  for (const segment of rest) {
    if (!isSafeSegment(segment)) return null
  }
  return { org, rest: rest.join('/'), query }
}

// RFC 6750 §2.3's query parameter: never accepted here, and never passed on either.
const CREDENTIAL_PARAMS = new Set(['access_token'])

/**
 * The query minus any `access_token` parameter, the rest verbatim: a client that puts its token
 * in the URL gets a 401 (tokens travel in the header only), and Ragie never sees the token.
 */
export function withoutCredentials (query: string): string {
  // The cheap test first: a query with no escape spells its names as they read, and one without
  // "access" names no credential. With an escape (`%61ccess_token` decodes to the name), every
  // name is decoded and looked at.
  if (!query.includes('%') && !query.toLowerCase().includes('access')) return query
  const kept = query.slice(1).split('&').filter(pair => {
    const name = pair.split('=', 1)[0]
    let decoded: string
    try {
      decoded = decodeURIComponent(name.replace(/\+/g, ' '))
    } catch {
      decoded = name
    }
    return !CREDENTIAL_PARAMS.has(decoded.trim().toLowerCase())
  })
  return kept.length === 0 ? '' : `?${kept.join('&')}`
}

function isSafeSegment (raw: string): boolean {
  if (raw.includes('\\') || ENCODED_SEPARATOR.test(raw)) return false
  const decoded = decodeSegment(raw)
  if (decoded === null) return false
  // Dot segments, and any segment that begins or ends with two dots (`..x`, `a..`): legal in a
  // URL, but reply-from refuses them (with a 400, and only once every check has run).
  if (decoded === '.' || decoded.startsWith('..') || decoded.endsWith('..')) return false
  // A percent left after one decoding is double encoding: refused, so no upstream can decode it twice.
  return !CONTROL.test(decoded) && !decoded.includes('%')
}

function decodeSegment (raw: string | undefined): string | null {
  if (raw === undefined) return null
  try {
    return decodeURIComponent(raw)
  } catch {
    return null
  }
}

/**
 * The upstream path: only the validated partition and rest (a TenantPath's), below the configured
 * prefix. The query goes apart, as it is (see TenantPath).
 */
export function upstreamPath (prefix: string, partition: string, rest: string): string {
  return `${prefix}/mcp/${partition}/${rest}`
}

/** The resource URL a tenant's tokens may name as audience, and its metadata URL. */
export function tenantResource (baseUrl: string, org: string): string {
  return `${baseUrl}/${org}/mcp`
}

export function tenantMetadataUrl (baseUrl: string, org: string): string {
  return `${baseUrl}/.well-known/oauth-protected-resource/${org}/mcp`
}
