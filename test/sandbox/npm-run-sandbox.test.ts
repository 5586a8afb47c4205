import t from 'tap'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { InMemoryOAuthProvider, connectWithOAuth } from '../../examples/oauth-client.ts'
import { DEMO_ORG } from '../../sandbox/demo.ts'
import { freePort, runNode } from '../fixtures/process.ts'
import type { GatewayProcess } from '../fixtures/process.ts'
import { ROOT } from '../helper.ts'
import type { TestContext } from '../helper.ts'
import { claims, texts } from './helper.ts'

function start (t: TestContext, args: string[], env: Record<string, string>): GatewayProcess {
  const proc = runNode(ROOT, args, env)
  t.teardown(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL') })
  return proc
}

/** Resolves with the first match of `pattern` in the process's output; rejects if it exits first. */
async function waitForOutput (proc: GatewayProcess, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const match = pattern.exec(proc.stdout.join('\n'))
    if (match !== null) return match
    if (proc.child.exitCode !== null) throw new Error(`exited with ${proc.child.exitCode}: ${proc.stderr.join('\n')}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`no ${pattern} in: ${proc.stdout.join('\n')}`)
}

t.test('npm run sandbox: prints the MCP URL, serves the SDK client end to end, stops cleanly on Ctrl-C', async t => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  t.equal(pkg.scripts.sandbox, 'node sandbox/index.ts', 'the script runs the entry this test starts')

  const port = await freePort()
  const proc = start(t, ['sandbox/index.ts'], { PORT: String(port) })
  const [, mcpUrl] = await waitForOutput(proc, /MCP URL\s+(\S+)/)
  t.equal(mcpUrl, `http://127.0.0.1:${port}/${DEMO_ORG.id}/mcp`, 'PORT sets the gateway port')
  const banner = proc.stdout.join('\n')
  t.match(banner, DEMO_ORG.id, 'the organization id is printed')
  t.match(banner, /@modelcontextprotocol\/inspector/, 'how to connect the Inspector')
  t.match(banner, /examples\/oauth-client\.ts/, 'how to connect the SDK client')

  await t.test('the SDK client completes the OAuth flow against it', async t => {
    const provider = new InMemoryOAuthProvider()
    const client = await connectWithOAuth(new URL(mcpUrl), provider)
    t.teardown(() => client.close())
    t.equal(claims(provider.tokens()?.access_token ?? '').aud, mcpUrl)
    const result = await client.callTool({ name: 'retrieve', arguments: { query: 'lost laptop' } })
    t.equal(JSON.parse(texts(result)[0]).document_id, 'doc_security')
  })

  await t.test('examples/oauth-client.ts, run as it is, does the same', async t => {
    const example = start(t, ['examples/oauth-client.ts', mcpUrl], {})
    t.same(await example.exited, { code: 0, signal: null }, example.stderr.join('\n'))
    const out = example.stdout.join('\n')
    t.match(out, /tools: .*retrieve/)
    t.match(out, /progress 3\/3 done/)
    t.match(out, /doc_vacation/)
  })

  proc.child.kill('SIGINT')
  t.same(await proc.exited, { code: 0, signal: null }, 'Ctrl-C: exit 0')
  const refused = await fetch(mcpUrl).then(() => false, () => true)
  t.ok(refused, 'nothing listens on the port any more')
})

t.test('a bad setting stops the sandbox with one clear line', async t => {
  const busy = createServer()
  await new Promise<void>(resolve => busy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => busy.close(() => resolve())))
  const busyPort = (busy.address() as AddressInfo).port

  for (const [env, pattern] of [
    [{ PORT: 'nope' }, /PORT must be a port number/],
    [{ PORT: '0', SANDBOX_USER: 'mallory' }, /SANDBOX_USER must be pick or one of/],
    [{ PORT: String(busyPort) }, new RegExp(`port ${busyPort} is in use`)]
  ] as Array<[Record<string, string>, RegExp]>) {
    const proc = start(t, ['sandbox/index.ts'], env)
    t.equal((await proc.exited).code, 1, `${JSON.stringify(env)}: exit 1`)
    const errors = proc.stderr.filter(line => line.startsWith('mcp-gateway sandbox:'))
    t.equal(errors.length, 1)
    t.match(errors[0], pattern)
  }
})
