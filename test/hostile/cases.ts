import type { Prng } from './prng.ts'
import type { PoolToken } from './tokens.ts'
import { MEMBER, ORG, OTHER_ORG, STRANGER } from '../helper.ts'

/** Who may reach the upstream through one request, and with which upstream session. */
export interface Allowed {
  sub: string
  org: string
  /** Ragie's session id the request may carry upstream (null: none). */
  session: string | null
}

/** One generated request. */
export interface Case {
  id: number
  kind: string
  bytes: Buffer
  head: boolean
  /** Null: this request must not reach the upstream at all. */
  allowed: Allowed | null
  /** The status a plain call must get (200, or 413 for its oversized body); null: any but a 500. */
  expect: number | null
}

/** A session id the gateway handed out, and to whom. */
export interface IssuedSession {
  clientId: string
  upstreamId: string
  sub: string
  org: string
}

export interface CaseContext {
  prng: Prng
  good: PoolToken[]
  bad: PoolToken[]
  sessions: IssuedSession[]
  bodyLimit: number
}

/** Who is an active member of what (the WorkOS double is seeded to match). */
export const MEMBERS: ReadonlyArray<[string, string]> = [[MEMBER, ORG], [STRANGER, OTHER_ORG]]
export const GOOD_ORIGIN = 'https://good.example'

function isMember (sub: string, org: string): boolean {
  return MEMBERS.some(([s, o]) => s === sub && o === org)
}

const pct = (s: string) => [...Buffer.from(s)].map(b => `%${b.toString(16).padStart(2, '0')}`).join('')

/** Organization segments: [as sent, the organization it means or null]. */
const ORG_SEGMENTS: ReadonlyArray<[string, string | null]> = [
  [ORG, ORG], [ORG, ORG], [OTHER_ORG, OTHER_ORG], [pct(ORG), ORG], [`${pct('o')}${ORG.slice(1)}`, ORG],
  [ORG.toLowerCase(), null], ['org_', null], [`org_${'A'.repeat(65)}`, null], [`${ORG}.`, null], [`${ORG}%2F..`, null],
  ['..', null], ['.', null], ['%2e%2e', null], [`${ORG};x`, null], [`${ORG}%00`, null], [`${ORG}%20`, null],
  ['ｏrg_01K8BHJC61A42KN38TB98HZHTQ', null], ['%EF%BD%8Frg_01K8BHJC61A42KN38TB98HZHTQ', null], ['', null],
  [`${ORG}%252F`, null], ['org_..', null], ['ORG_01K8BHJC61A42KN38TB98HZHTQ', null]
]

/** Rest of the path after `/mcp`: [as sent, safe to pass]. Unsafe ones must never reach upstream. */
const RESTS: ReadonlyArray<[string, boolean]> = [
  ['', true], ['/', true], ['/call', true], ['/session', true], ['/a/b/c', true], ['/%C3%A9t%C3%A9', true],
  ['/%F0%9F%98%80', true], [`/${'a'.repeat(3000)}`, true], ['/a;b=c', true], ['/~user', true], ['/a%20b', true],
  ['/..', false], ['/../..', false], ['/%2e%2e', false], ['/%2E%2e/x', false], ['/.%2e/x', false], ['/x/../../y', false],
  ['/x/%2F/y', false], ['/x%2fy', false], ['/x%5cy', false], ['/x\\..\\y', false], ['/%252e%252e', false],
  ['/%25%32%65', false], ['/%00', false], ['/x%0d%0aSet-Cookie:%20a=b', false], ['/./x', false], ['/x/.', false],
  ['/%c0%ae%c0%ae/x', true], ['//x', true], ['/x%', false], ['/%zz', false], ['/%u002e%u002e', false]
]

const QUERIES = ['', '', '?a=1', '?x=../../etc', '?a=%2F..%2F', '?%zz', '?q=' + 'q'.repeat(2000), '?a=1&a=2']
const METHODS = ['GET', 'POST', 'POST', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'FOO']
// MCP's methods: the only ones that may reach Ragie (the tenant routes expose no HEAD).
const PASSABLE = new Set(['GET', 'POST', 'DELETE'])

/** A random request target: printable, percent signs, dots and slashes, sometimes raw high bytes. */
function randomTarget (prng: Prng): string {
  const alphabet = 'abcxyzABC019-_.~/%:@!$&\'()*+,;=?#[]'
  let out = '/'
  const length = 1 + prng.int(prng.chance(0.05) ? 9000 : 60)
  for (let i = 0; i < length; i++) {
    if (prng.chance(0.02)) out += String.fromCharCode(0x80 + prng.int(0x7f))
    else out += alphabet[prng.int(alphabet.length)]
  }
  return out
}

/** Builds the request line, headers and body as bytes, exactly as given (latin1 for header bytes). */
function serialize (method: string, target: string, headers: Array<[string, string]>, body: Buffer): Buffer {
  const head = `${method} ${target} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), body])
}

/** Makes request `id`: a valid call about a quarter of the time, else a mix of hostile parts. */
export function makeCase (id: number, ctx: CaseContext): Case {
  const { prng } = ctx
  const headers: Array<[string, string]> = [['host', 'gateway.test'], ['connection', 'close'], ['x-fuzz-id', String(id)]]
  if (prng.chance(0.25)) {
    const [sub, org] = prng.pick(MEMBERS)
    const token = prng.pick(ctx.good.filter(t => t.sub === sub && t.validFor(org)))
    const rest = prng.chance(0.3) ? '/session' : '/call'
    const own = ctx.sessions.filter(s => s.sub === sub && s.org === org)
    const session = own.length > 0 && prng.chance(0.3) ? prng.pick(own) : null
    headers.push(['authorization', `Bearer ${token.token}`], ['content-type', 'application/json'])
    if (session !== null) headers.push(['mcp-session-id', session.clientId])
    const oversized = prng.chance(0.03)
    const body = oversized ? Buffer.alloc(ctx.bodyLimit + 1, 'z') : Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list' }))
    headers.push(['content-length', String(body.length)])
    return {
      id,
      kind: oversized ? 'valid-oversized-body' : 'valid',
      bytes: serialize('POST', `/${org}/mcp${rest}`, headers, body),
      head: false,
      allowed: oversized ? null : { sub, org, session: session?.upstreamId ?? null },
      expect: oversized ? 413 : 200
    }
  }

  const kinds: string[] = []
  let method = prng.pick(METHODS)
  let target: string
  let org: string | null = null
  let safePath = false
  if (prng.chance(0.15)) {
    target = randomTarget(prng)
    kinds.push('random-path')
  } else {
    const [orgSegment, meant] = prng.pick(ORG_SEGMENTS)
    const [rest, safe] = prng.pick(RESTS)
    target = `/${orgSegment}/mcp${rest}${prng.pick(QUERIES)}`
    org = meant
    safePath = safe
    kinds.push('crafted-path')
  }

  // Credentials: a good token, a bad one, none, or both in two Authorization headers.
  const tokens: PoolToken[] = []
  const scheme = prng.pick(['Bearer', 'Bearer', 'bearer', 'BEARER', 'Basic', 'Bearer  ', 'Token'])
  const roll = prng.next()
  if (roll < 0.35) tokens.push(prng.pick(ctx.good))
  else if (roll < 0.8) tokens.push(prng.pick(ctx.bad))
  else if (roll < 0.9) tokens.push(prng.pick(ctx.bad), prng.pick(ctx.good))
  else kinds.push('no-token')
  for (const token of tokens) headers.push(['authorization', `${scheme} ${token.token}`])
  if (tokens.length === 2) kinds.push('duplicated-authorization')
  if (prng.chance(0.05) && ctx.good.length > 0) {
    // A token in the query string is no credential.
    target += `${target.includes('?') ? '&' : '?'}access_token=${prng.pick(ctx.good).token}`
    kinds.push('query-token')
  }

  // Hostile headers.
  let originOk = true
  let reused: IssuedSession | null = null
  let sessionSent = false
  let bodyOk = true
  if (prng.chance(0.2)) {
    const sessions = ctx.sessions
    const pick = prng.int(5)
    let value: string
    sessionSent = true
    if (pick === 0 && sessions.length > 0) {
      reused = prng.pick(sessions)
      value = reused.clientId
      kinds.push('session-reused')
    } else if (pick === 1 && sessions.length > 0) {
      value = prng.pick(sessions).upstreamId
      kinds.push('session-raw-upstream')
    } else if (pick === 2 && sessions.length > 0) {
      const s = prng.pick(sessions).clientId
      value = s.slice(0, -3) + (s.endsWith('AAA') ? 'BBB' : 'AAA')
      kinds.push('session-tampered')
    } else {
      value = `g2.${Buffer.from(`up-${prng.int(50)}`).toString('base64url')}.${'A'.repeat(43)}`
      kinds.push('session-forged')
    }
    headers.push(['mcp-session-id', value])
  }
  if (prng.chance(0.1)) {
    const origin = prng.pick([GOOD_ORIGIN, 'https://evil.example', 'null', 'https://good.example.evil.test'])
    headers.push(['origin', origin])
    originOk = origin === GOOD_ORIGIN
    kinds.push('origin')
  }
  if (prng.chance(0.05)) {
    headers.push(['x-big', 'b'.repeat(17_000 + prng.int(5000))])
    kinds.push('huge-header')
  }
  if (prng.chance(0.03)) {
    for (let i = 0; i < 200; i++) headers.push([`x-many-${i}`, 'v'])
    kinds.push('many-headers')
  }
  if (prng.chance(0.08)) {
    headers.push(prng.pick<[string, string]>([
      ['x-crlf', 'a\r\nx-injected: yes'],
      ['x-cr', 'a\rb'],
      ['x-lf', 'a\nb'],
      ['x-nul', 'a\u0000b'],
      ['x bad name', 'v'],
      ['x-fold', 'a\r\n folded'],
      ['x-forwarded-for', '6.6.6.6'],
      ['cookie', 'session=stolen'],
      ['proxy-authorization', 'Basic YTpi'],
      ['transfer-encoding', 'chunked'],
      ['host', 'second.host'],
      ['x-utf8', 'h\u00e9llo']
    ]))
    kinds.push('odd-header')
  }

  // Body: none, small, chunked, over the limit, or smuggling-shaped.
  let body = Buffer.alloc(0)
  const hasTe = headers.some(([n]) => n === 'transfer-encoding')
  const bodyRoll = prng.next()
  if (hasTe) {
    body = Buffer.from('5\r\nhello\r\n0\r\n\r\n')
  } else if (bodyRoll < 0.4) {
    body = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/list"}')
    headers.push(['content-type', prng.pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'])])
    headers.push(['content-length', String(body.length)])
  } else if (bodyRoll < 0.45) {
    body = Buffer.alloc(ctx.bodyLimit + 1 + prng.int(1000), 'z')
    headers.push(['content-type', 'application/json'], ['content-length', String(body.length)])
    bodyOk = false
    kinds.push('oversized-body')
  } else if (bodyRoll < 0.5) {
    body = Buffer.from('0\r\n\r\n')
    headers.push(['content-length', String(body.length)], ['transfer-encoding', 'chunked'])
    kinds.push('smuggling')
  }

  if (prng.chance(0.02)) method = 'G E T'
  // Who may pass: a good token for a member, for the organization the path means, through a path
  // that cannot leave the partition, with an origin, session and body the gateway accepts.
  const good = tokens.find(tk => org !== null && tk.validFor(org) && isMember(tk.sub, org))
  // A session passes only for the user and organization it was issued to; any other id never does.
  const sessionOk = !sessionSent || (reused !== null && good !== undefined && good.sub === reused.sub && org === reused.org)
  const allowed = good !== undefined && org !== null && safePath && originOk && sessionOk && bodyOk && PASSABLE.has(method) &&
    scheme !== 'Basic' && scheme !== 'Token'
    ? { sub: good.sub, org, session: reused?.upstreamId ?? null }
    : null
  return { id, kind: kinds.join('+'), bytes: serialize(method, target, headers, body), head: method === 'HEAD', allowed, expect: null }
}
