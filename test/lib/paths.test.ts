import t from 'tap'
import { createRequire } from 'node:module'
import { parseTenantPath, upstreamPath, tenantResource, tenantMetadataUrl } from '../../lib/paths.ts'

// reply-from's own check of the path it is given (not in its public API, so required by its file).
const { buildURL } = createRequire(import.meta.url)('@fastify/reply-from/lib/utils.js') as { buildURL: (source: string, base: string) => URL }

const ORG = 'org_01K8BHJC61A42KN38TB98HZHTQ'

t.test('a tenant path parses into its org, rest and query', async t => {
  t.same(parseTenantPath(`/${ORG}/mcp`), { org: ORG, rest: '', query: '' })
  t.same(parseTenantPath(`/${ORG}/mcp/`), { org: ORG, rest: '', query: '' })
  t.same(parseTenantPath(`/${ORG}/mcp/x/y`), { org: ORG, rest: 'x/y', query: '' })
  t.same(parseTenantPath(`/${ORG}/mcp/x/y?z=1`), { org: ORG, rest: 'x/y', query: '?z=1' })
  t.same(parseTenantPath(`/${ORG}/mcp?z=1`), { org: ORG, rest: '', query: '?z=1' })
  t.same(parseTenantPath('/org_a/mcp/raw/echo'), { org: 'org_a', rest: 'raw/echo', query: '' })
})

t.test('org ids of 1 to 64 alphanumerics after org_ are accepted', async t => {
  t.equal(parseTenantPath('/org_a/mcp')?.org, 'org_a')
  t.equal(parseTenantPath('/org_Z9/mcp')?.org, 'org_Z9')
  const longest = 'org_' + 'A'.repeat(64)
  t.equal(parseTenantPath(`/${longest}/mcp`)?.org, longest)
})

t.test('an org that is not an organization id is refused', async t => {
  const bad = [
    '', // empty: `//mcp`
    'org_', // nothing after org_
    'org_' + 'a'.repeat(65), // too long
    'ORG_abc', // prefix is case-sensitive
    'Org_abc',
    'org-abc',
    'orgabc',
    'abc',
    'org_a.b', // dots
    'org_a.',
    '.',
    '..',
    '%2e%2e',
    'org_a%2e', // encoded dot
    'org_a%2E',
    'org_a%2fb', // encoded slash
    'org_a%2Fb',
    'org_a%5cb', // encoded backslash
    'org_a\\b',
    'org_a%00', // encoded NUL
    'org_a%0a',
    'org_a%20b', // encoded space
    'org_a%25', // encoded percent
    'org_a%252e', // double-encoded dot
    'org_a%3f', // encoded ?
    'org_a%23', // encoded #
    'org_ábc', // unicode, raw
    'org_%C3%A1bc', // unicode, encoded
    'org_１２３', // full-width digits
    'org_a%zz', // malformed encoding
    'org_a%',
    'org_a-b',
    'org_a_b',
    'org_a b'
  ]
  for (const org of bad) {
    t.equal(parseTenantPath(`/${org}/mcp`), null, `org ${JSON.stringify(org)} is refused`)
    t.equal(parseTenantPath(`/${org}/mcp/x?y=1`), null, `org ${JSON.stringify(org)} is refused with a rest`)
  }
})

t.test('a path that is not /<org>/mcp[/...] is refused', async t => {
  for (const path of [
    '',
    'relative/mcp',
    `${ORG}/mcp`,
    `/${ORG}`,
    `/${ORG}/`,
    `/${ORG}/MCP`,
    `/${ORG}/mcpx`,
    `/${ORG}/mcp%2f`,
    `/${ORG}//mcp`,
    `//${ORG}/mcp`,
    `/${ORG}/mcp#frag`,
    `/${ORG}/mcp/x#frag`,
    `/${ORG}/mcp/x?a=1#frag`,
    `/${ORG}/mcp?#`,
    `/${ORG}?/mcp`
  ]) {
    t.equal(parseTenantPath(path), null, `${JSON.stringify(path)} is refused`)
  }
})

t.test('a rest holding a dot segment, raw or encoded, is refused', async t => {
  const dots = ['.', '..', '%2e', '%2E', '%2e%2e', '%2E%2e', '%2e%2E', '.%2e', '%2e.', '.%2E', '%2E.']
  for (const dot of dots) {
    for (const rest of [dot, `${dot}/x`, `x/${dot}`, `x/${dot}/y`, `${dot}/${dot}/admin`]) {
      t.equal(parseTenantPath(`/${ORG}/mcp/${rest}`), null, `rest ${JSON.stringify(rest)} is refused`)
    }
  }
})

t.test('a segment that begins or ends with two dots is refused (reply-from would refuse it after every check)', async t => {
  for (const rest of ['..x', 'x..', '..x/y', 'a../b', 'a/..%2e', '%2e%2ex', 'x%2E%2E/y', '...', '....']) {
    t.equal(parseTenantPath(`/${ORG}/mcp/${rest}`), null, `rest ${JSON.stringify(rest)} is refused`)
  }
  for (const rest of ['a..b', 'x.y', '.well-known', 'v1.2/x', 'a.b.c']) {
    t.not(parseTenantPath(`/${ORG}/mcp/${rest}`), null, `rest ${JSON.stringify(rest)} is accepted`)
  }
})

t.test('every rest the gateway accepts, reply-from accepts too: no 400 after the checks', async t => {
  let accepted = 0
  const refused: string[] = []
  for (const rest of craftedRests()) {
    const parsed = parseTenantPath(`/${ORG}/mcp/${rest}`)
    if (parsed === null) continue
    accepted++
    try {
      buildURL(upstreamPath('', 'soc2', parsed.rest), 'http://upstream.internal')
    } catch (err) {
      refused.push(`${rest}: ${(err as Error).message}`)
    }
  }
  t.same(refused.slice(0, 20), [], `${refused.length} accepted rests that reply-from refuses`)
  t.ok(accepted > 100, `accepted ${accepted}`)
})

t.test('a rest holding an encoded slash or backslash, or a raw backslash, is refused', async t => {
  for (const rest of ['%2f', '%2F', 'a%2fb', '..%2f..%2fadmin', '%5c', '%5C', 'a%5cb', '..%5c..%5cadmin', '\\', 'a\\b', '..\\..\\admin', '\\\\host\\share']) {
    t.equal(parseTenantPath(`/${ORG}/mcp/${rest}`), null, `rest ${JSON.stringify(rest)} is refused`)
  }
})

t.test('a control character, raw or encoded, anywhere is refused', async t => {
  const codes = [...Array(0x20).keys(), 0x7f]
  for (const code of codes) {
    const raw = String.fromCharCode(code)
    const encoded = '%' + code.toString(16).padStart(2, '0')
    t.equal(parseTenantPath(`/${ORG}/mcp/a${raw}b`), null, `raw 0x${code.toString(16)} in the rest is refused`)
    t.equal(parseTenantPath(`/${ORG}/mcp/a${encoded}b`), null, `encoded ${encoded} in the rest is refused`)
    t.equal(parseTenantPath(`/${ORG}/mcp/a${encoded.toUpperCase()}b`), null, `encoded ${encoded.toUpperCase()} in the rest is refused`)
    t.equal(parseTenantPath(`/${ORG}/mcp/x?q=${raw}`), null, `raw 0x${code.toString(16)} in the query is refused`)
  }
})

t.test('double encoding and malformed encoding in the rest are refused', async t => {
  for (const rest of ['%252e', '%252e%252e', '%252e%252e/%252e%252e/admin', '%252f', '%255c', '%2500', '%25', 'a%25b', '%zz', '%', 'a%2', '%e0%a4%a']) {
    t.equal(parseTenantPath(`/${ORG}/mcp/${rest}`), null, `rest ${JSON.stringify(rest)} is refused`)
  }
})

t.test('ordinary encoded characters in the rest are kept as the client wrote them', async t => {
  t.equal(parseTenantPath(`/${ORG}/mcp/a%20b`)?.rest, 'a%20b')
  t.equal(parseTenantPath(`/${ORG}/mcp/caf%C3%A9`)?.rest, 'caf%C3%A9')
  t.equal(parseTenantPath(`/${ORG}/mcp/a...b`)?.rest, 'a...b', 'dots inside a name are a name')
  t.equal(parseTenantPath(`/${ORG}/mcp/.well-known`)?.rest, '.well-known')
  t.equal(parseTenantPath(`/${ORG}/mcp/a..b`)?.rest, 'a..b')
})

t.test('the query string is kept verbatim, whatever it holds', async t => {
  for (const query of ['?z=1&a=%20', '?', '?a=../../x', '?a=%2e%2e%2f', '?a=%2F&b=%5C', '?x=a/b?c', '?a=%252e', '?redirect=http://evil.example/']) {
    const parsed = parseTenantPath(`/${ORG}/mcp/raw/echo${query}`)
    t.equal(parsed?.query, query, `query ${JSON.stringify(query)} is kept`)
    t.equal(parsed?.rest, 'raw/echo')
  }
})

t.test('upstreamPath puts the rest under <prefix>/mcp/<partition>/, the query apart', async t => {
  const parse = (url: string) => {
    const parsed = parseTenantPath(url)
    if (parsed === null) throw new Error(`${url} should parse`)
    return parsed
  }
  t.equal(upstreamPath('', 'soc2', parse(`/${ORG}/mcp`).rest), '/mcp/soc2/')
  t.equal(upstreamPath('', 'soc2', parse(`/${ORG}/mcp/`).rest), '/mcp/soc2/')
  t.equal(upstreamPath('', 'soc2', parse(`/${ORG}/mcp/x/y?z=1`).rest), '/mcp/soc2/x/y')
  t.equal(upstreamPath('/prefix', 'soc2', parse(`/${ORG}/mcp/x?z=1&a=%20`).rest), '/prefix/mcp/soc2/x')
  t.equal(parse(`/${ORG}/mcp/x?z=1&a=%20`).query, '?z=1&a=%20')
  t.equal(upstreamPath('/a/b', 'p', parse(`/${ORG}/mcp`).rest), '/a/b/mcp/p/')
})

t.test('tenant resource and metadata URLs name the org under BASE_URL', async t => {
  t.equal(tenantResource('https://gw.example', ORG), `https://gw.example/${ORG}/mcp`)
  t.equal(tenantMetadataUrl('https://gw.example', ORG), `https://gw.example/.well-known/oauth-protected-resource/${ORG}/mcp`)
})

// Pieces an attacker would combine; every combination is either refused or stays below the partition.
const PIECES = [
  '.', '..', '...', '%2e', '%2E', '%2e%2e', '%2E%2e', '.%2e', '%2e.', '%252e', '%252e%252e', '%25',
  '/', '//', '%2f', '%2F', '%5c', '%5C', '\\', '%00', '\u0000', '\t', '\n', '\r', '%09', '%0a', '%0d', '%7f',
  '?', '#', '%3f', '%23', ';', '..;', '%3b', '@', ':', 'http:', '%40', 'é', '%c3%a9', '%zz', '%',
  'a', 'admin', 'raw', 'x y', '%20', '~', '$', '&', '='
]

/** A small deterministic generator, so a failure names an input that can be replayed. */
function lcg (seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648
  }
}

function * craftedRests (): Generator<string> {
  for (const a of PIECES) {
    yield a
    for (const b of PIECES) {
      yield a + b
      yield `${a}/${b}`
    }
  }
  const random = lcg(20260101)
  for (let i = 0; i < 20000; i++) {
    const n = 1 + Math.floor(random() * 6)
    let rest = ''
    for (let j = 0; j < n; j++) rest += PIECES[Math.floor(random() * PIECES.length)] + (random() < 0.5 ? '/' : '')
    yield rest
  }
}

t.test('no crafted rest can make the upstream path leave <prefix>/mcp/<partition>/', async t => {
  let checked = 0
  let accepted = 0
  const failures: string[] = []
  for (const prefix of ['', '/prefix', '/a/b']) {
    for (const partition of ['soc2', ORG.toLowerCase()]) {
      const base = `${prefix}/mcp/${partition}/`
      for (const rest of craftedRests()) {
        const url = `/${ORG}/mcp/${rest}`
        checked++
        const parsed = parseTenantPath(url)
        if (parsed === null) continue
        accepted++
        // As reply-from sends it: the path, then the query.
        const path = `${upstreamPath(prefix, partition, parsed.rest)}${parsed.query}`
        const resolved = new URL(path, 'http://x')
        if (!path.startsWith(base) || resolved.origin !== 'http://x' || !resolved.pathname.startsWith(base)) {
          failures.push(JSON.stringify({ url, path, resolved: resolved.pathname }))
        }
      }
    }
  }
  t.same(failures.slice(0, 20), [], `${failures.length} of ${checked} crafted paths escaped`)
  // The loop must have exercised accepted paths too, not only refused ones.
  t.ok(accepted > 1000, `accepted ${accepted} of ${checked}`)
})

t.test('no crafted org can be accepted unless it is a plain organization id', async t => {
  const failures: string[] = []
  for (const rest of craftedRests()) {
    for (const org of [`org_${rest}`, `org_a${rest}`, `${rest}org_a`]) {
      const parsed = parseTenantPath(`/${org}/mcp/x`)
      if (parsed !== null && !/^org_[A-Za-z0-9]{1,64}$/.test(parsed.org)) failures.push(JSON.stringify({ org, parsed: parsed.org }))
      if (parsed !== null && parsed.org !== org && decodeURIComponent(org) !== parsed.org) failures.push(JSON.stringify({ org, parsed: parsed.org }))
    }
  }
  t.same(failures.slice(0, 20), [], `${failures.length} crafted orgs were accepted`)
})
