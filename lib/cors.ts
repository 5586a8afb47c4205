/** Headers a browser-based MCP client must be able to read from a tenant answer. */
export const EXPOSED_HEADERS = 'Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate, Retry-After'
export const ALLOWED_METHODS = 'GET, POST, DELETE, OPTIONS'
const DEFAULT_ALLOWED_HEADERS = 'Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID'
const HEADER_LIST = /^[A-Za-z0-9-]+(\s*,\s*[A-Za-z0-9-]+)*$/

/**
 * True when a request's Origin may use the tenant routes: no header (not a browser), no list
 * configured (auth is bearer-only, so a foreign page gains nothing), or a listed origin.
 */
export function originAllowed (origin: string | undefined, allowed: readonly string[]): boolean {
  return origin === undefined || allowed.length === 0 || allowed.includes(origin)
}

/** The request headers a preflight may allow: the requested ones when well-formed, else the MCP set. */
export function allowedRequestHeaders (requested: string | undefined): string {
  return requested !== undefined && HEADER_LIST.test(requested) ? requested : DEFAULT_ALLOWED_HEADERS
}

/** The CORS headers of a tenant answer to an allowed `origin`. */
export function setCorsHeaders (reply: { header: (name: string, value: string) => unknown }, origin: string): void {
  reply.header('access-control-allow-origin', origin)
  reply.header('access-control-expose-headers', EXPOSED_HEADERS)
  reply.header('vary', 'Origin')
}
