import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { build, startFixtures, ORG, BASE_URL } from '../helper.ts'

const DISCOVERY = ['oauth-authorization-server', 'openid-configuration'] as const

t.test('tenant protected resource metadata names exactly the URL the client uses', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const res = await app.inject({ method: 'GET', url: `/.well-known/oauth-protected-resource/${ORG}/mcp` })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.same(res.json(), {
    resource: `${BASE_URL}/${ORG}/mcp`,
    authorization_servers: [f.authkit.issuer],
    bearer_methods_supported: ['header'],
    resource_name: 'Ragie MCP'
  })
  t.match(String(res.headers['cache-control']), /max-age=\d+/)
  t.equal(res.headers['access-control-allow-origin'], '*')
  t.equal(f.upstream.requests.length, 0)
})

t.test('tenant metadata keeps the org exactly as the client wrote it', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  for (const org of ['org_a', 'org_ABCdef0123', ORG.toLowerCase()]) {
    const res = await app.inject({ method: 'GET', url: `/.well-known/oauth-protected-resource/${org}/mcp` })
    t.equal(res.statusCode, 200)
    t.equal(res.json().resource, `${BASE_URL}/${org}/mcp`)
  }
})

t.test('tenant metadata for an invalid org is a 404 JSON', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  for (const org of ['bad', 'ORG_abc', 'org_a%2e', 'org_a.b', `org_${'a'.repeat(65)}`, 'org_%C3%A1', '%2e%2e']) {
    const res = await app.inject({ method: 'GET', url: `/.well-known/oauth-protected-resource/${org}/mcp` })
    t.equal(res.statusCode, 404, org)
    t.same(res.json(), { error: 'not_found', error_description: res.json().error_description }, org)
    t.type(res.json().error_description, 'string')
  }
})

t.test('root protected resource metadata names BASE_URL', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, BASE_URL: `${BASE_URL}/` })
  const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    resource: BASE_URL,
    authorization_servers: [f.authkit.issuer],
    bearer_methods_supported: ['header'],
    resource_name: 'Ragie MCP'
  })
  t.match(String(res.headers['cache-control']), /max-age=\d+/)
  t.equal(res.headers['access-control-allow-origin'], '*')
})

t.test('scopes, documentation and a resource name appear in both documents when configured', async t => {
  const f = await startFixtures(t)
  const app = await build(t, {
    ...f.env,
    SCOPES_SUPPORTED: 'openid, profile,email',
    RESOURCE_DOCUMENTATION: 'https://docs.example.com/mcp',
    RESOURCE_NAME: 'Acme knowledge'
  })
  for (const url of ['/.well-known/oauth-protected-resource', `/.well-known/oauth-protected-resource/${ORG}/mcp`]) {
    const body = (await app.inject({ method: 'GET', url })).json()
    t.same(body.scopes_supported, ['openid', 'profile', 'email'], url)
    t.equal(body.resource_documentation, 'https://docs.example.com/mcp', url)
    t.equal(body.resource_name, 'Acme knowledge', url)
  }
})

t.test('without configuration the optional fields are absent', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const body = (await app.inject({ method: 'GET', url: `/.well-known/oauth-protected-resource/${ORG}/mcp` })).json()
  t.notOk('scopes_supported' in body)
  t.notOk('resource_documentation' in body)
})

t.test('authorization server documents are AuthKit\'s own, issuer unchanged, at plain and path-suffixed URLs', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  for (const name of DISCOVERY) {
    for (const url of [`/.well-known/${name}`, `/.well-known/${name}/${ORG}/mcp`, `/.well-known/${name}/${ORG}`]) {
      const res = await app.inject({ method: 'GET', url })
      t.equal(res.statusCode, 200, url)
      const doc = res.json()
      t.equal(doc.issuer, f.authkit.issuer, `${url}: issuer unchanged`)
      t.equal(doc.authorization_endpoint, `${f.authkit.issuer}/oauth2/authorize`)
      t.equal(doc.token_endpoint, `${f.authkit.issuer}/oauth2/token`)
      t.equal(doc.registration_endpoint, `${f.authkit.issuer}/oauth2/register`)
      t.same(doc.code_challenge_methods_supported, ['S256'])
      t.match(String(res.headers['cache-control']), /max-age=\d+/)
      t.equal(res.headers['access-control-allow-origin'], '*')
    }
  }
  const oidc = (await app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })).json()
  t.same(oidc.id_token_signing_alg_values_supported, ['RS256'], 'the OIDC document is the OIDC one')
  const oauth = (await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json()
  t.notOk('id_token_signing_alg_values_supported' in oauth, 'the RFC 8414 document is the RFC 8414 one')
})

t.test('AuthKit\'s documents are cached: repeated calls do not refetch', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  for (let i = 0; i < 5; i++) {
    const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
    t.equal(res.statusCode, 200)
  }
  t.equal(f.authkit.metadataRequests, 1, 'one fetch for five calls')
  await app.inject({ method: 'GET', url: `/.well-known/oauth-authorization-server/${ORG}/mcp` })
  t.equal(f.authkit.metadataRequests, 1, 'the path-suffixed form shares the copy')
})

t.test('concurrent first calls share one AuthKit fetch', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const answers = await Promise.all(Array.from({ length: 10 }, () => app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })))
  t.same(answers.map(a => a.statusCode), Array(10).fill(200))
  t.equal(f.authkit.metadataRequests, 1)
})

t.test('AuthKit down before any good copy: 503 JSON, never a 200', async t => {
  const f = await startFixtures(t)
  f.authkit.metadataMode = 'down'
  const app = await build(t, f.env)
  for (const name of DISCOVERY) {
    const res = await app.inject({ method: 'GET', url: `/.well-known/${name}` })
    t.equal(res.statusCode, 503, name)
    t.equal(res.json().error, 'temporarily_unavailable')
    t.type(res.json().error_description, 'string')
    t.notOk(res.body.includes('127.0.0.1'), 'the answer does not name AuthKit\'s address')
    t.notOk(res.body.includes('bad_gateway'), 'AuthKit\'s own error body is not passed on')
  }
})

t.test('AuthKit down before any good copy: a loop of requests drives one fetch per 2 s, not a loop of fetches', async t => {
  const f = await startFixtures(t)
  f.authkit.metadataMode = 'down'
  const app = await build(t, f.env)
  const url = '/.well-known/oauth-authorization-server'
  for (let i = 0; i < 20; i++) t.equal((await app.inject({ method: 'GET', url })).statusCode, 503)
  t.equal(f.authkit.metadataRequests, 1, 'one fetch')
  f.authkit.metadataMode = 'ok'
  await sleep(2100)
  t.equal((await app.inject({ method: 'GET', url })).statusCode, 200, 'AuthKit back: served after the backoff')
  t.equal(f.authkit.metadataRequests, 2)
})

t.test('AuthKit answering 200 with an error body: 503, never a 200', async t => {
  const f = await startFixtures(t)
  f.authkit.metadataMode = 'error-200'
  const app = await build(t, f.env)
  for (const name of DISCOVERY) {
    const res = await app.inject({ method: 'GET', url: `/.well-known/${name}` })
    t.equal(res.statusCode, 503, name)
    t.equal(res.json().error, 'temporarily_unavailable')
    t.notOk(res.body.includes('something went wrong'))
  }
})

t.test('discovery errors are readable by a browser: CORS on the 503 and the 404, Retry-After from RETRY_AFTER_SECONDS, never cacheable', async t => {
  const f = await startFixtures(t)
  f.authkit.metadataMode = 'down'
  const app = await build(t, { ...f.env, RETRY_AFTER_SECONDS: '7' })
  for (const url of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration/tenant']) {
    const res = await app.inject({ method: 'GET', url, headers: { origin: 'https://inspector.example' } })
    t.equal(res.statusCode, 503, url)
    t.equal(res.headers['access-control-allow-origin'], '*')
    t.equal(res.headers['retry-after'], '7')
    t.equal(res.headers['cache-control'], undefined, 'an error is not cached as a document')
  }
  const notFound = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/not-an-org/mcp', headers: { origin: 'https://inspector.example' } })
  t.equal(notFound.statusCode, 404)
  t.equal(notFound.headers['access-control-allow-origin'], '*')
  t.equal(notFound.headers['cache-control'], undefined)
})

t.test('AuthKit hanging: 503 once METADATA_TIMEOUT_MS has passed', async t => {
  const f = await startFixtures(t)
  f.authkit.metadataMode = 'hang'
  const app = await build(t, { ...f.env, METADATA_TIMEOUT_MS: '300' })
  const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  t.equal(res.statusCode, 503)
  t.equal(res.json().error, 'temporarily_unavailable')
})

t.test('after a good fetch, an AuthKit outage serves the last good copy', async t => {
  const f = await startFixtures(t)
  // The shortest TTL, waited out, so the outage is really met; after a failure the old copy is
  // tried again after a tenth of the TTL.
  const app = await build(t, { ...f.env, METADATA_CACHE_SECONDS: '1' })
  const first = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  t.equal(first.statusCode, 200)
  t.equal(f.authkit.metadataRequests, 1)
  await sleep(1100)

  for (const mode of ['down', 'error-200'] as const) {
    f.authkit.metadataMode = mode
    if (mode === 'error-200') await sleep(200)
    const before = f.authkit.metadataRequests
    const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
    t.equal(f.authkit.metadataRequests, before + 1, `${mode}: AuthKit was asked again`)
    t.equal(res.statusCode, 200, `${mode}: the last good copy is served`)
    t.same(res.json(), first.json(), `${mode}: the same document`)
  }

  f.authkit.metadataMode = 'ok'
  const again = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  t.equal(again.statusCode, 200)
})

t.test('METADATA_CACHE_SECONDS=0 is refused: every discovery request would be a fetch from AuthKit', async t => {
  const f = await startFixtures(t)
  await t.rejects(build(t, { ...f.env, METADATA_CACHE_SECONDS: '0' }), /METADATA_CACHE_SECONDS must be a positive whole number of seconds/)
})

t.test('CORS preflight for a metadata document needs nothing and allows any origin', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, ALLOWED_ORIGINS: 'https://good.example' })
  const res = await app.inject({ method: 'OPTIONS', url: `/.well-known/oauth-protected-resource/${ORG}/mcp`, headers: { origin: 'https://any.example', 'access-control-request-method': 'GET' } })
  t.equal(res.statusCode, 204)
  t.equal(res.headers['access-control-allow-origin'], '*')
  t.match(String(res.headers['access-control-allow-methods']), /GET/)
})

t.test('unknown paths are a 404 JSON', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  for (const url of ['/nope', '/.well-known/unknown', '/.well-known/oauth-protected-resource/x', `/.well-known/oauth-protected-resource/${ORG}`, `/.well-known/oauth-protected-resource/${ORG}/mcp/extra`, `/${ORG}`, '/mcp']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 404, url)
    t.match(res.headers['content-type'], /^application\/json/)
    t.equal(res.json().error, 'not_found', url)
  }
  t.equal(f.upstream.requests.length, 0)
  t.equal(f.authkit.metadataRequests, 0)
})
