import t from 'tap'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { startFixtures, ROOT, ORG, MEMBER } from './helper.ts'
import { freePort, runNode } from './fixtures/process.ts'

const CLI = join(ROOT, 'node_modules', 'fastify-cli', 'cli.js')

t.test('fastify start -o app.ts serves the same routes as server.ts', async t => {
  const f = await startFixtures(t)
  const port = await freePort()
  // As the README and `npm run start:cli` run it, with server.ts's V8 setting on node's command line.
  const proc = runNode(ROOT, ['--no-allocation-site-pretenuring', CLI, 'start', '-o', '-l', 'info', '-a', '127.0.0.1', '-p', String(port), 'app.ts'], { ...f.env, LOG_LEVEL: 'info' })
  t.teardown(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL') })
  t.equal(await proc.listening, port)
  const base = `http://127.0.0.1:${port}`

  t.equal((await fetch(`${base}/healthz`)).status, 200)
  const metadata = await (await fetch(`${base}/.well-known/oauth-protected-resource/${ORG}/mcp`)).json() as { resource: string }
  t.equal(metadata.resource, `${f.env.BASE_URL}/${ORG}/mcp`)
  const anonymous = await fetch(`${base}/${ORG}/mcp`, { method: 'POST' })
  t.equal(anonymous.status, 401)
  t.match(anonymous.headers.get('www-authenticate') ?? '', /resource_metadata=/)

  const transport = new StreamableHTTPClientTransport(new URL(`${base}/${ORG}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${f.token(MEMBER)}` } }
  })
  const client = new Client({ name: 'cli-test', version: '1.0.0' })
  await client.connect(transport)
  const { tools } = await client.listTools()
  t.ok(tools.some(tool => tool.name === 'whoami'), 'a member lists the upstream tools')
  await client.close()

  const logs = proc.stdout.join('\n')
  t.notOk(logs.includes(f.env.RAGIE_API_KEY), 'the Ragie key is never logged')
  t.notMatch(logs, /"url":/, 'no raw URL is logged')
  proc.child.kill('SIGTERM')
  t.equal((await proc.exited).code, 0)
})

t.test('fastify start -o app.ts with a bad variable exits with one clear line', async t => {
  const f = await startFixtures(t)
  const port = await freePort()
  const env = { ...f.env, WORKOS_CLIENT_ID: '' }
  const proc = runNode(ROOT, ['--no-deprecation', CLI, 'start', '-o', '-p', String(port), 'app.ts'], env)
  t.teardown(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL') })
  t.equal((await proc.exited).code, 1)
  t.same(proc.stderr, ['mcp-gateway: WORKOS_CLIENT_ID must be a non-empty client id without spaces'])
})
