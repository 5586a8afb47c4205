import t from 'tap'
import { join } from 'node:path'
import { startFixtures, ROOT, ORG, WORKOS_KEY } from './helper.ts'
import { runNode } from './fixtures/process.ts'
import { loadConfig } from '../lib/config.ts'
import { runChecks, formatChecks } from '../lib/doctor.ts'

t.test('npm run doctor passes every check against services that answer as configured', async t => {
  const f = await startFixtures(t)
  f.workos.apiKey = WORKOS_KEY
  const dir = t.testdir({ 'mapping.json': JSON.stringify({ [ORG]: 'soc2' }) })
  const proc = runNode(ROOT, [join('scripts', 'doctor.ts')], { ...f.env, BASE_URL: 'https://mcp.example.com', MAPPING_FILE: join(dir, 'mapping.json') })
  t.equal((await proc.exited).code, 0, proc.stdout.join('\n'))
  const out = proc.stdout.join('\n')
  t.equal(proc.stdout.filter(l => l.startsWith('✓')).length, 6)
  t.match(out, /all checks passed/)
  t.ok(f.upstream.requests.some(r => r.method === 'POST' && r.partition === 'soc2' && r.headers.authorization === `Bearer ${f.env.RAGIE_API_KEY}`), 'Ragie was asked with the key, on the first mapped partition')
  t.ok(f.upstream.requests.some(r => r.method === 'DELETE'), 'the check session was deleted')
  t.notOk(out.includes(f.env.RAGIE_API_KEY) || out.includes(WORKOS_KEY), 'no secret is printed')
})

t.test('the Ragie check uses the key the first mapped organization\'s requests carry (its apiKeyEnv)', async t => {
  const f = await startFixtures(t)
  f.workos.apiKey = WORKOS_KEY
  const dir = t.testdir({ 'mapping.json': JSON.stringify({ [ORG]: { partition: 'soc2', apiKeyEnv: 'RAGIE_KEY_SOC2' } }) })
  const env = { ...f.env, BASE_URL: 'https://mcp.example.com', MAPPING_FILE: join(dir, 'mapping.json'), RAGIE_KEY_SOC2: 'ragie_key_of_soc2' }
  const checks = await runChecks(loadConfig(env), env)
  t.ok(checks.every(c => c.ok), formatChecks(checks))
  const calls = f.upstream.requests.filter(r => r.partition === 'soc2')
  t.ok(calls.length > 0)
  t.ok(calls.every(r => r.headers.authorization === 'Bearer ragie_key_of_soc2'), 'with the organization\'s own key, not RAGIE_API_KEY')
})

t.test('each failure is named with its fix, and the exit code is 1', async t => {
  const f = await startFixtures(t)
  f.workos.apiKey = 'sk_the_real_one'
  const config = loadConfig({
    ...f.env,
    BASE_URL: 'http://mcp.example.com',
    WORKOS_AUTHORIZATION_SERVER_URL: `${f.authkit.issuer}/`,
    RAGIE_MCP_SERVER_URL: 'http://127.0.0.1:1'
  })
  // The issuer with a trailing slash is normalised by config; AuthKit must still match it.
  f.authkit.metadataMode = 'ok'
  const checks = await runChecks({ ...config, issuer: `${f.authkit.issuer}/x`, jwksUrl: `${f.authkit.issuer}/x/oauth2/jwks` }, f.env)
  const byName = Object.fromEntries(checks.map(c => [c.name, c]))
  t.equal(byName['BASE_URL uses https'].ok, false)
  t.equal(byName['AuthKit metadata reachable, issuer matches'].ok, false)
  t.equal(byName['AuthKit JWKS reachable, RS256 keys'].ok, false)
  t.equal(byName['WorkOS API key accepted'].ok, false)
  t.match(byName['WorkOS API key accepted'].fix, /WORKOS_API_KEY/)
  t.equal(byName['Ragie MCP server reachable, key accepted'].ok, false)
  t.match(byName['Ragie MCP server reachable, key accepted'].fix, /RAGIE_MCP_SERVER_URL/)
  t.equal(byName['mapping file valid'].ok, true)
  const text = formatChecks(checks)
  t.equal(text.split('\n').filter(l => l.startsWith('✗')).length, 5)
  t.equal(text.split('\n').filter(l => l.trim().startsWith('fix:')).length, 5)
})

t.test('an issuer that differs from the one AuthKit names is caught, with the value to set', async t => {
  const f = await startFixtures(t)
  f.authkit.issuer = 'https://acme.authkit.app'
  const config = loadConfig(f.env)
  const checks = await runChecks(config, f.env)
  const metadata = checks.find(c => c.name.startsWith('AuthKit metadata'))
  t.equal(metadata?.ok, false)
  t.match(metadata?.fix, 'WORKOS_AUTHORIZATION_SERVER_URL=https://acme.authkit.app')
})

t.test('a Ragie URL that answers 404 is reported with the URL to fix', async t => {
  const f = await startFixtures(t)
  const config = loadConfig({ ...f.env, RAGIE_MCP_SERVER_URL: f.upstream.url + '/nope' })
  const checks = await runChecks(config, f.env)
  const ragie = checks.find(c => c.name.startsWith('Ragie'))
  t.equal(ragie?.ok, false)
  t.match(ragie?.detail, /answered 404/)
})

t.test('a bad configuration is one failed line', async t => {
  const proc = runNode(ROOT, [join('scripts', 'doctor.ts')], { BASE_URL: 'https://x.test' })
  t.equal((await proc.exited).code, 1)
  t.match(proc.stdout.join('\n'), /✗ configuration: RAGIE_API_KEY is required/)
})
