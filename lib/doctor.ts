import { UnauthorizedException } from '@workos-inc/node'
import type { Config } from './config.ts'
import { loadMappingFile } from './mapping.ts'
import { createWorkosClient } from './workos.ts'

/** One line of the checklist: what was checked, whether it holds, and how to fix it if not. */
export interface Check {
  name: string
  ok: boolean
  detail: string
  fix?: string
}

type Fetch = typeof fetch

async function getJson (doFetch: Fetch, url: string, timeoutMs: number): Promise<{ status: number, body: unknown }> {
  const res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } })
  let body: unknown = null
  try { body = await res.json() } catch {}
  return { status: res.status, body }
}

function reason (err: unknown): string {
  const e = err as { name?: string, cause?: { code?: string } }
  return e.cause?.code ?? (e.name === 'TimeoutError' ? 'timed out' : e.name ?? 'failed')
}

/** AuthKit's metadata answers and names exactly the configured issuer. */
export async function checkAuthKitMetadata (config: Config, doFetch: Fetch = fetch): Promise<Check> {
  const name = 'AuthKit metadata reachable, issuer matches'
  const url = `${config.issuer}/.well-known/oauth-authorization-server`
  try {
    const { status, body } = await getJson(doFetch, url, config.metadataTimeoutMs)
    const issuer = (body as { issuer?: unknown } | null)?.issuer
    if (status !== 200 || typeof issuer !== 'string') {
      return { name, ok: false, detail: `${url} answered ${status}`, fix: 'set WORKOS_AUTHORIZATION_SERVER_URL to your AuthKit domain, e.g. https://<name>.authkit.app' }
    }
    if (issuer !== config.issuer) {
      return { name, ok: false, detail: `AuthKit names its issuer ${issuer}`, fix: `set WORKOS_AUTHORIZATION_SERVER_URL=${issuer} (tokens carry that exact iss)` }
    }
    return { name, ok: true, detail: issuer }
  } catch (err) {
    return { name, ok: false, detail: `${url}: ${reason(err)}`, fix: 'check WORKOS_AUTHORIZATION_SERVER_URL and that this host can reach it' }
  }
}

/** AuthKit's JWKS answers with at least one RS256 signing key. */
export async function checkJwks (config: Config, doFetch: Fetch = fetch): Promise<Check> {
  const name = 'AuthKit JWKS reachable, RS256 keys'
  try {
    const { status, body } = await getJson(doFetch, config.jwksUrl, config.jwksTimeoutMs)
    const keys = (body as { keys?: Array<{ kty?: string, alg?: string }> } | null)?.keys
    const usable = Array.isArray(keys) ? keys.filter(k => k.kty === 'RSA' && (k.alg === undefined || k.alg === 'RS256')).length : 0
    if (status !== 200 || usable === 0) {
      return { name, ok: false, detail: `${config.jwksUrl} answered ${status} with ${usable} usable keys`, fix: 'check WORKOS_AUTHORIZATION_SERVER_URL: the JWKS is served at <it>/oauth2/jwks' }
    }
    return { name, ok: true, detail: `${usable} key(s)` }
  } catch (err) {
    return { name, ok: false, detail: `${config.jwksUrl}: ${reason(err)}`, fix: 'check that this host can reach AuthKit' }
  }
}

/** The WorkOS API accepts the key (a one-item list of organizations). */
export async function checkWorkosKey (config: Config): Promise<Check> {
  const name = 'WorkOS API key accepted'
  const workos = createWorkosClient({ apiKey: config.workosApiKey, apiUrl: config.workosApiUrl, timeoutMs: config.workosTimeoutMs, maxRetries: 0 })
  try {
    await workos.organizations.listOrganizations({ limit: 1 })
    return { name, ok: true, detail: config.workosApiUrl }
  } catch (err) {
    if (err instanceof UnauthorizedException) {
      return { name, ok: false, detail: 'WorkOS answered 401', fix: 'set WORKOS_API_KEY to a secret key (sk_…) of the same WorkOS environment as AuthKit' }
    }
    return { name, ok: false, detail: `${config.workosApiUrl}: ${reason(err)}`, fix: 'check WORKOS_API_URL (or leave it unset) and that this host can reach it' }
  }
}

/** Ragie's MCP server answers an MCP initialize with the key (the session is then deleted). */
export async function checkRagie (config: Config, partition: string, doFetch: Fetch = fetch, apiKey = config.ragieApiKey): Promise<Check> {
  const name = 'Ragie MCP server reachable, key accepted'
  const url = `${config.upstreamOrigin}${config.upstreamPathPrefix}/mcp/${partition}/`
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
  const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp-gateway-doctor', version: '1.0.0' } } }
  try {
    const res = await doFetch(url, { method: 'POST', headers, body: JSON.stringify(initialize), signal: AbortSignal.timeout(config.upstreamHeadersTimeoutMs) })
    await res.body?.cancel()
    const session = res.headers.get('mcp-session-id')
    if (session !== null) await doFetch(url, { method: 'DELETE', headers: { ...headers, 'mcp-session-id': session }, signal: AbortSignal.timeout(config.upstreamHeadersTimeoutMs) }).then(r => r.body?.cancel()).catch(() => {})
    if (res.status === 401 || res.status === 403) {
      return { name, ok: false, detail: `Ragie answered ${res.status}`, fix: 'set RAGIE_API_KEY to a valid Ragie API key (and each apiKeyEnv variable of the mapping file)' }
    }
    if (res.status >= 400) {
      return { name, ok: false, detail: `${url} answered ${res.status}`, fix: 'check RAGIE_MCP_SERVER_URL (e.g. https://api.ragie.ai)' }
    }
    return { name, ok: true, detail: `partition ${partition}: ${res.status}` }
  } catch (err) {
    return { name, ok: false, detail: `${config.upstreamOrigin}: ${reason(err)}`, fix: 'check RAGIE_MCP_SERVER_URL and that this host can reach it' }
  }
}

/** The mapping file, when one is configured, loads; `partition` is its first, for the Ragie check. */
export function checkMapping (config: Config, env: Record<string, string | undefined>): Check & { partition?: string, apiKey?: string } {
  const name = 'mapping file valid'
  if (config.mappingFile === undefined) {
    return config.strictMapping
      ? { name, ok: false, detail: 'strict mapping without a mapping file', fix: 'set MAPPING_FILE, or unset STRICT_MAPPING' }
      : { name, ok: true, detail: 'none configured' }
  }
  try {
    const mapping = loadMappingFile(config.mappingFile, env)
    const first = [...mapping.values()][0]
    return { name, ok: true, detail: `${mapping.size} organization(s)`, partition: first?.partition, apiKey: first?.apiKey }
  } catch (err) {
    return { name, ok: false, detail: (err as Error).message, fix: 'correct the entry named, see the README\'s mapping file section' }
  }
}

/** Every check, in the order a request meets them. */
export async function runChecks (config: Config, env: Record<string, string | undefined>, doFetch: Fetch = fetch): Promise<Check[]> {
  const { partition, apiKey, ...mapping } = checkMapping(config, env)
  const [metadata, jwks, workos, ragie] = await Promise.all([
    checkAuthKitMetadata(config, doFetch),
    checkJwks(config, doFetch),
    checkWorkosKey(config),
    // The first mapped organization's partition, with the key its requests carry (its own, when it
    // has one); DOCTOR_PARTITION names another, with RAGIE_API_KEY.
    env.DOCTOR_PARTITION !== undefined ? checkRagie(config, env.DOCTOR_PARTITION, doFetch) : checkRagie(config, partition ?? 'default', doFetch, apiKey)
  ])
  const baseUrl: Check = new URL(config.baseUrl).protocol === 'https:' || /^http:\/\/(localhost|127\.0\.0\.1)(:|$)/.test(config.baseUrl)
    ? { name: 'BASE_URL uses https', ok: true, detail: config.baseUrl }
    : { name: 'BASE_URL uses https', ok: false, detail: config.baseUrl, fix: 'MCP clients require https for a remote server: put TLS in front and set BASE_URL=https://…' }
  return [baseUrl, mapping, metadata, jwks, workos, ragie]
}

/** The checklist as text: one line a check, its fix indented below it. */
export function formatChecks (checks: readonly Check[]): string {
  return checks.map(c => c.ok
    ? `✓ ${c.name}: ${c.detail}`
    : `✗ ${c.name}: ${c.detail}\n    fix: ${c.fix ?? 'see the README'}`).join('\n')
}
