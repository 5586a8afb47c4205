import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { build, startFixtures, upstreamCount, ORG, OTHER_ORG, MEMBER, RAGIE_KEY } from '../helper.ts'
import type { Fixtures, TestContext } from '../helper.ts'
import { ConfigError } from '../../lib/errors.ts'

const SOC2_KEY = 'ragie_soc2_key_do_not_leak'

const dir = t.testdir({})
let files = 0

/** Writes `mapping` (JSON, or a string as it is) to a new file and returns its path. */
function mappingFile (mapping: unknown): string {
  const file = join(dir, `mapping-${++files}.json`)
  writeFileSync(file, typeof mapping === 'string' ? mapping : JSON.stringify(mapping))
  return file
}

/** One proxied request to the upstream's plain-HTTP echo, with a valid token unless told otherwise. */
function call (app: FastifyInstance, f: Fixtures, org = ORG, authorization: string | null = `Bearer ${f.token()}`): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: `/${org}/mcp/raw/echo?q=1`,
    headers: { 'content-type': 'application/json', ...(authorization === null ? {} : { authorization }) },
    payload: '{}'
  })
}

/** Builds the app, expecting it to fail to start, and returns the error. */
async function startFailure (t: TestContext, env: Record<string, string>): Promise<unknown> {
  return build(t, env).then(() => null, (err: unknown) => err)
}

t.test('the flat form sends an organization to its partition', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, MAPPING_FILE: mappingFile({ [ORG]: 'soc2' }) })
  const res = await call(app, f)
  t.equal(res.statusCode, 200, res.body)
  t.same(f.upstream.requests.map(r => r.url), ['/mcp/soc2/raw/echo?q=1'])
  t.equal(f.upstream.requests[0].headers.authorization, `Bearer ${RAGIE_KEY}`, 'with the default Ragie key')
})

t.test('the object form sends an organization to its partition', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, MAPPING_FILE: mappingFile({ [ORG]: { partition: 'soc2' } }) })
  const res = await call(app, f)
  t.equal(res.statusCode, 200, res.body)
  t.same(f.upstream.requests.map(r => r.url), ['/mcp/soc2/raw/echo?q=1'])
})

t.test('apiKeyEnv sends the organization\'s own Ragie key upstream, never the default one', async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: MEMBER, organizationId: OTHER_ORG, status: 'active', role: 'member' })
  const file = mappingFile({ [ORG]: { partition: 'soc2', apiKeyEnv: 'RAGIE_KEY_SOC2' } })
  const app = await build(t, { ...f.env, MAPPING_FILE: file, RAGIE_KEY_SOC2: SOC2_KEY })
  const token = f.token()
  t.equal((await call(app, f, ORG, `Bearer ${token}`)).statusCode, 200)
  const [soc2] = f.upstream.requests
  t.equal(soc2.partition, 'soc2')
  t.equal(soc2.headers.authorization, `Bearer ${SOC2_KEY}`)
  t.notMatch(JSON.stringify(soc2.headers), RAGIE_KEY, 'the default key is not sent anywhere')
  t.notMatch(JSON.stringify(soc2.headers), token, 'nor the client\'s token')

  t.equal((await call(app, f, OTHER_ORG)).statusCode, 200)
  const other = f.upstream.requests[1]
  t.equal(other.partition, OTHER_ORG.toLowerCase())
  t.equal(other.headers.authorization, `Bearer ${RAGIE_KEY}`, 'an unmapped organization keeps the default key')
})

t.test('an unmapped organization goes to its id lower-cased when not strict', async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: MEMBER, organizationId: OTHER_ORG, status: 'active', role: 'member' })
  const app = await build(t, { ...f.env, MAPPING_FILE: mappingFile({ [ORG]: 'soc2' }) })
  const res = await call(app, f, OTHER_ORG)
  t.equal(res.statusCode, 200, res.body)
  t.same(f.upstream.requests.map(r => r.url), [`/mcp/${OTHER_ORG.toLowerCase()}/raw/echo?q=1`])
})

t.test('without a mapping file every organization goes to its id lower-cased', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  t.equal((await call(app, f)).statusCode, 200)
  t.equal(f.upstream.requests[0].partition, ORG.toLowerCase())
})

t.test('strict mode: a mapped organization works', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, MAPPING_FILE: mappingFile({ [ORG]: 'soc2' }), STRICT_MAPPING: 'true' })
  const res = await call(app, f)
  t.equal(res.statusCode, 200, res.body)
  t.equal(f.upstream.requests[0].partition, 'soc2')
})

t.test('strict mode: an unmapped organization without a token gets 401, not 404', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, MAPPING_FILE: mappingFile({ [ORG]: 'soc2' }), STRICT_MAPPING: 'true' })
  const res = await call(app, f, OTHER_ORG, null)
  t.equal(res.statusCode, 401, res.body)
  t.match(res.headers['www-authenticate'], `resource_metadata="https://mcp.gateway.test/.well-known/oauth-protected-resource/${OTHER_ORG}/mcp"`)
  t.equal(upstreamCount(f), 0)
})

t.test('strict mode: an unmapped organization with an invalid token gets 401, not 404', async t => {
  const f = await startFixtures(t)
  const app = await build(t, { ...f.env, MAPPING_FILE: mappingFile({ [ORG]: 'soc2' }), STRICT_MAPPING: 'true' })
  const res = await call(app, f, OTHER_ORG, `Bearer ${f.token(MEMBER, { exp: Math.floor(Date.now() / 1000) - 3600 })}`)
  t.equal(res.statusCode, 401, res.body)
  t.match(res.json(), { error: 'invalid_token' })
  t.equal(upstreamCount(f), 0)
})

t.test('strict mode: an unmapped organization with a valid token gets 404 and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  // A real member of the unmapped organization: strict mode is about the mapping, not membership.
  f.workos.addMembership({ userId: MEMBER, organizationId: OTHER_ORG, status: 'active', role: 'member' })
  const app = await build(t, { ...f.env, MAPPING_FILE: mappingFile({ [ORG]: 'soc2' }), STRICT_MAPPING: 'true' })
  const res = await call(app, f, OTHER_ORG)
  t.equal(res.statusCode, 404, res.body)
  t.same(res.json(), { error: 'not_found', error_description: 'no such resource' })
  t.notOk('www-authenticate' in res.headers)
  t.equal(upstreamCount(f), 0)
  t.equal(f.workos.calls.length, 0, 'WorkOS is not asked either')
  const unknownPath = await app.inject({ method: 'GET', url: '/no/such/path' })
  t.equal(res.body, unknownPath.body, 'the answer is the same as any unknown path')
})

t.test('strict mode without a mapping file does not start', async t => {
  const f = await startFixtures(t)
  const err = await startFailure(t, { ...f.env, STRICT_MAPPING: 'true' })
  t.ok(err instanceof ConfigError, String(err))
  t.match((err as Error).message, /mapping file/)
})

t.test('a bad mapping file stops the start with a ConfigError naming the file and the entry', async t => {
  const f = await startFixtures(t)
  const cases: Array<{ name: string, content: unknown, want: RegExp[] }> = [
    { name: 'not JSON', content: `{ "${ORG}": soc2 `, want: [/not valid JSON/] },
    { name: 'not an object', content: ['soc2'], want: [/JSON object/] },
    { name: 'a bad partition', content: { [ORG]: 'Bad Name!' }, want: [new RegExp(`entry "${ORG}"`), /Bad Name!/] },
    { name: 'an apiKeyEnv naming an unset variable', content: { [ORG]: { partition: 'soc2', apiKeyEnv: 'RAGIE_KEY_UNSET' } }, want: [new RegExp(`entry "${ORG}"`), /RAGIE_KEY_UNSET/] },
    { name: 'an unknown field', content: { [ORG]: { partition: 'soc2', partitions: 'other' } }, want: [new RegExp(`entry "${ORG}"`)] },
    { name: 'a key that is not an organization id', content: { 'acme-corp': 'soc2' }, want: [/entry "acme-corp"/] },
    { name: 'a "__proto__" key', content: `{ "${ORG}": "soc2", "__proto__": "evil" }`, want: [/entry "__proto__"/] },
    { name: 'a "constructor" key', content: { constructor: 'evil' }, want: [/entry "constructor"/] }
  ]
  for (const c of cases) {
    const file = mappingFile(c.content)
    const err = await startFailure(t, { ...f.env, MAPPING_FILE: file })
    t.ok(err instanceof ConfigError, `${c.name}: ${String(err)}`)
    t.match((err as Error).message, file, `${c.name}: names the file`)
    for (const want of c.want) t.match((err as Error).message, want, `${c.name}: ${want}`)
  }
})

t.test('a missing mapping file stops the start with a ConfigError naming the file', async t => {
  const f = await startFixtures(t)
  const file = join(dir, 'nowhere.json')
  const err = await startFailure(t, { ...f.env, MAPPING_FILE: file })
  t.ok(err instanceof ConfigError, String(err))
  t.match((err as Error).message, file)
  t.match((err as Error).message, /does not exist/)
})
