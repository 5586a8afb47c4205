import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'

// RFC 9110 §7.6.1 connection-specific fields, plus credentials that are the client's, not Ragie's.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings'])
const CLIENT_CREDENTIALS = new Set(['authorization', 'cookie', 'proxy-authorization'])
// What a client may claim about where a request came from or was meant to go: some servers and
// proxies act on these (rewrite the path, take the client address, override the method). Every
// `X-Forwarded-*` goes too (`X-Forwarded-Prefix`, `-Uri`, `-Client-Cert`, …), by its prefix.
const FORWARDING = new Set([
  'forwarded', 'x-real-ip', 'true-client-ip', 'cf-connecting-ip', 'x-client-ip', 'x-cluster-client-ip', 'client-ip',
  'x-original-url', 'x-original-uri', 'x-rewrite-url', 'x-original-host', 'x-original-method',
  'x-http-method-override', 'x-http-method', 'x-method-override'
])
const FORWARDING_PREFIX = 'x-forwarded-'
// Ragie is asked for its answers uncompressed: event streams reach the client as produced, with
// no compression (SPEC §6), and the gateway reads their event boundaries and adds its keep-alive
// comments, which it could do in no compressed stream. The client's own wish goes with it.
const ENCODING = ['accept-encoding']
// Answered by the gateway itself: Node's server sends the 100 Continue, then the gateway has the
// whole body to pass on (and undici refuses to send Expect at all: every such call failed).
const ANSWERED_HERE = ['expect']
// The partition is the gateway's to choose, in the path. Ragie's REST API scopes several endpoints
// by a `partition` header: one from the client must never get the chance to name another
// tenant's partition, whatever Ragie's MCP server makes of it.
const GATEWAY_CHOOSES = ['partition']
// Every name Ragie never receives from the client, in one set: one look-up a header on the hot path.
const NOT_UPSTREAM = new Set([...HOP_BY_HOP, ...CLIENT_CREDENTIALS, ...FORWARDING, ...ANSWERED_HERE, ...GATEWAY_CHOOSES, ...ENCODING])
// Ragie's cookies, and its auth challenge: that is about the gateway's key, and the gateway owns
// the challenges its clients get (one naming Ragie's metadata would send them to sign in there).
const NOT_TO_CLIENT = new Set(['set-cookie', 'www-authenticate'])
const NONE: readonly string[] = []

export interface ForwardedFor {
  ip: string
  protocol: string
  host: string
}

/** Lists the header names a Connection header marks as hop-by-hop. */
function connectionTokens (value: string | string[] | undefined): readonly string[] {
  if (value === undefined) return NONE
  // The usual case, one token that is itself hop-by-hop ("keep-alive") or no header ("close"):
  // nothing more to drop, and no arrays built for it on every response.
  if (typeof value === 'string' && !value.includes(',')) {
    const token = value.trim().toLowerCase()
    return token === 'close' || HOP_BY_HOP.has(token) ? NONE : [token]
  }
  return listTokens(value)
}

/** The tokens of a comma-separated header (one or several fields), trimmed, in lower case. */
function listTokens (value: string | string[]): string[] {
  return (Array.isArray(value) ? value.join(',') : value).split(',').map(t => t.trim().toLowerCase()).filter(Boolean)
}

/** A Vary value that also names `field` (unless it is `*`, which already covers every field). */
function withVary (value: string | number | string[], field: string): string {
  const fields = (Array.isArray(value) ? value.join(',') : String(value)).split(',').map(f => f.trim()).filter(Boolean)
  const lower = field.toLowerCase()
  if (fields.includes('*') || fields.some(f => f.toLowerCase() === lower)) return fields.join(', ')
  return [...fields, field].join(', ')
}

/**
 * Whether an answer's body is encoded (compressed) in a way the gateway cannot read: a
 * Content-Encoding naming anything but `identity`. Ragie is asked for none (`Accept-Encoding:
 * identity`), but a server may send one all the same.
 */
export function isEncoded (value: string | string[] | undefined): boolean {
  if (value === undefined) return false
  return listTokens(value).some(coding => coding !== 'identity')
}

/**
 * The headers Ragie receives: the client's minus its credentials, hop-by-hop and forwarding
 * headers and its Accept-Encoding, plus the Ragie key, the gateway's own X-Forwarded-* and
 * `Accept-Encoding: identity`.
 */
export function upstreamRequestHeaders (incoming: IncomingHttpHeaders, apiKey: string, forwarded: ForwardedFor): IncomingHttpHeaders {
  const drop = connectionTokens(incoming.connection)
  const out: IncomingHttpHeaders = {}
  for (const name in incoming) {
    if (NOT_UPSTREAM.has(name) || name.startsWith(FORWARDING_PREFIX) || drop.includes(name)) continue
    out[name] = incoming[name]
  }
  out.authorization = `Bearer ${apiKey}`
  out['accept-encoding'] = 'identity'
  out['x-forwarded-for'] = forwarded.ip
  out['x-forwarded-proto'] = forwarded.protocol
  out['x-forwarded-host'] = forwarded.host
  return out
}

/** True for an answer that is an event stream (`Content-Type: text/event-stream`, with parameters or not). */
export function isEventStream (contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('text/event-stream')
}

/**
 * The headers the client receives: Ragie's minus cookies, hop-by-hop, its auth challenge and CORS
 * (the gateway owns its CORS policy), and event streams marked never to be buffered.
 */
export function clientResponseHeaders (incoming: Record<string, string | string[] | undefined>, varyOn?: string): OutgoingHttpHeaders {
  const drop = connectionTokens(incoming.connection)
  const out: OutgoingHttpHeaders = {}
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || NOT_TO_CLIENT.has(name) || name.startsWith('access-control-') || drop.includes(name)) continue
    out[name] = incoming[name]
  }
  // Ragie's Vary would replace the gateway's own (`Origin`, with CORS): a cache shared by several
  // origins could then hand one origin's answer to another. Both are kept.
  if (varyOn !== undefined && out.vary !== undefined) out.vary = withVary(out.vary, varyOn)
  if (isEventStream(incoming['content-type'])) {
    out['x-accel-buffering'] = 'no'
    out['cache-control'] ??= 'no-cache'
  }
  return out
}
