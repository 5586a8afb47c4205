import t from 'tap'
import { readFileSync } from 'node:fs'
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
  const proc = runNode(ROOT, ['--no-allocation-site-pretenuring', '--no-maglev', CLI, 'start', '-o', '-l', 'info', '-a', '127.0.0.1', '-p', String(port), 'app.ts'], { ...f.env, LOG_LEVEL: 'info' })
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

t.test('npm run start:cli drains at a SIGTERM as server.ts does: an open event stream ends cleanly, exit 0', async t => {
  // fastify-cli exits 1 once its close delay has passed after a signal (500 ms unless -g says
  // otherwise): the command must give the gateway's grace period room.
  const f = await startFixtures(t)
  const port = await freePort()
  const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['start:cli']
  const args = script.split(' ').slice(1)
  args.splice(args.length - 1, 0, '-a', '127.0.0.1', '-p', String(port))
  const proc = runNode(ROOT, args, { ...f.env, SHUTDOWN_GRACE_SECONDS: '2' })
  t.teardown(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL') })
  t.equal(await proc.listening, port)
  const res = await fetch(`http://127.0.0.1:${port}/${ORG}/mcp/raw/sse`, { headers: { authorization: `Bearer ${f.token(MEMBER)}`, accept: 'text/event-stream' } })
  t.equal(res.status, 200)
  const body = res.text()
  await new Promise(resolve => setTimeout(resolve, 200))
  proc.child.kill('SIGTERM')
  const text = await body
  t.match(text, /data: \{"n":1\}/, 'the stream delivered events until the grace period was over')
  t.same(await proc.exited, { code: 0, signal: null }, 'and the process exited 0, not cut off by fastify-cli')
})
