import t from 'tap'
import { build, startFixtures, ORG } from '../helper.ts'
import { withoutCredentials } from '../../lib/paths.ts'

t.test('a token in the query string is never passed to Ragie, the rest of the query is', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  const token = f.token()
  for (const [query, expected] of [
    [`?access_token=${token}`, ''],
    [`?a=1&access_token=${token}&b=%20`, '?a=1&b=%20'],
    [`?ACCESS_TOKEN=${token}&a=1`, '?a=1'],
    [`?access%5Ftoken=${token}`, ''],
    // Encoded letters: no "access" is left to see, a query parser still reads access_token.
    [`?%61ccess_token=${token}&a=1`, '?a=1'],
    [`?a=1&acc%65ss%5Ftoken=${token}`, '?a=1'],
    [`?%41CCESS_TOKEN=${token}`, ''],
    ['?access_token&z=2', '?z=2'],
    ['?x=access_token', '?x=access_token']
  ]) {
    const before = f.upstream.requests.length
    const res = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/echo${query}`, headers: { authorization: `Bearer ${token}` } })
    t.equal(res.statusCode, 200, query)
    const seen = f.upstream.requests[before]
    t.equal(seen?.url, `/mcp/${ORG.toLowerCase()}/raw/echo${expected}`)
    if (query.includes(token)) t.notOk(JSON.stringify(seen).includes(token.split('.')[2]), 'the token reached Ragie nowhere')
  }
})

t.test('HEAD is not a way to Ragie: 404 and nothing upstream', async t => {
  const f = await startFixtures(t)
  const app = await build(t, f.env)
  for (const url of [`/${ORG}/mcp`, `/${ORG}/mcp/raw/echo`]) {
    const res = await app.inject({ method: 'HEAD', url, headers: { authorization: `Bearer ${f.token()}` } })
    t.equal(res.statusCode, 404, url)
  }
  t.equal(f.upstream.requests.length, 0)
})

t.test('withoutCredentials leaves a query without credentials untouched', async t => {
  t.equal(withoutCredentials(''), '')
  t.equal(withoutCredentials('?a=%2F&b=c+d&&e'), '?a=%2F&b=c+d&&e')
  t.equal(withoutCredentials('?access_token=x'), '')
  t.equal(withoutCredentials('?access_token=%zz&a=1'), '?a=1')
  t.equal(withoutCredentials('?%zz=1&access_token=2'), '?%zz=1')
  t.equal(withoutCredentials('?%61ccess_token=x&b=%20'), '?b=%20')
  t.equal(withoutCredentials('?b=%41'), '?b=%41')
})
