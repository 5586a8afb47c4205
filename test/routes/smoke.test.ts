import t from 'tap'
import { build, startFixtures, ORG } from '../helper.ts'

t.test('member reaches upstream raw echo', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const res = await app.inject({ method: 'POST', url: `/${ORG}/mcp/raw/echo?x=1`, headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json' }, payload: '{"a":1}' })
  t.equal(res.statusCode, 200, res.body)
  t.same(f.upstream.requests.map(r => r.url), [`/mcp/${ORG.toLowerCase()}/raw/echo?x=1`])
})
