import t from 'tap'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import type { Progress } from '@modelcontextprotocol/sdk/types.js'
import { build, startFixtures, ORG, MEMBER, RAGIE_KEY, STRANGER } from './helper.ts'
import type { TestContext } from './helper.ts'
import type { Fixtures } from './helper.ts'

async function gatewayUrl (t: TestContext, f: Fixtures): Promise<URL> {
  const app = await build(t, f.env)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return new URL(`http://127.0.0.1:${port}/${ORG}/mcp`)
}

async function connect (t: TestContext, url: URL, token: string): Promise<{ client: Client, transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } })
  const client = new Client({ name: 'gateway-test', version: '1.0.0' })
  await client.connect(transport)
  t.teardown(() => client.close())
  return { client, transport }
}

t.test('the official MCP SDK client works through the gateway end to end', async t => {
  const f = await startFixtures(t)
  const url = await gatewayUrl(t, f)
  const token = f.token(MEMBER)
  const { client, transport } = await connect(t, url, token)
  const sessionId = transport.sessionId
  t.ok(sessionId, 'initialize returned an Mcp-Session-Id through the gateway')
  const upstreamId = [...f.upstream.sessions.keys()][0] ?? ''
  t.ok(upstreamId, 'the upstream created a session')
  t.not(sessionId, upstreamId, 'the client holds the gateway\'s bound id, not Ragie\'s own')

  await t.test('tools/list', async t => {
    const { tools } = await client.listTools()
    t.same(tools.map(tool => tool.name).sort(), ['echo', 'progress', 'whoami'])
  })

  await t.test('tools/call reaches the partition of the organization', async t => {
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    t.same(JSON.parse((result.content as Array<{ text: string }>)[0].text), { partition: ORG.toLowerCase() })
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'héllo ✓' } })
    t.equal((echoed.content as Array<{ text: string }>)[0].text, 'héllo ✓')
  })

  await t.test('progress notifications arrive before the result: streamed, not buffered', async t => {
    const release = f.upstream.holdProgress()
    const seen: Progress[] = []
    let releasedByGuard = false
    // The tool waits after its first notification until that notification has reached us; a
    // buffering gateway would hold it back, and only this guard would end the wait.
    const guard = setTimeout(() => { releasedByGuard = true; release() }, 10_000)
    const result = await client.callTool({ name: 'progress', arguments: {} }, undefined, {
      onprogress: p => {
        seen.push(p)
        if (p.progress === 1) release()
      }
    })
    clearTimeout(guard)
    t.notOk(releasedByGuard, 'the first progress notification reached the client while the tool was still running')
    t.same(seen.map(p => p.progress), [1, 2, 3])
    t.equal((result.content as Array<{ text: string }>)[0].text, 'done')
  })

  await t.test('the GET stream carries server-initiated messages', async t => {
    await f.upstream.waitFor(r => r.method === 'GET' && r.headers['mcp-session-id'] === upstreamId)
    const received = new Promise<unknown>(resolve => {
      client.setNotificationHandler(LoggingMessageNotificationSchema, n => resolve(n.params.data))
    })
    await f.upstream.sessions.get(upstreamId)?.server.sendLoggingMessage({ level: 'info', data: 'from the standalone stream' })
    t.equal(await received, 'from the standalone stream')
  })

  await t.test('every upstream request carried the Ragie key and never the user token', async t => {
    t.ok(f.upstream.requests.length >= 5)
    for (const r of f.upstream.requests) {
      t.equal(r.headers.authorization, `Bearer ${RAGIE_KEY}`)
      t.notOk(JSON.stringify(r.headers).includes(token), 'the user token never went upstream')
      t.equal(r.partition, ORG.toLowerCase())
      const session = r.headers['mcp-session-id']
      if (session !== undefined) t.equal(session, upstreamId, 'upstream only ever saw its own session id')
    }
  })

  await t.test('DELETE ends the session upstream', async t => {
    await transport.terminateSession()
    const del = await f.upstream.waitFor(r => r.method === 'DELETE')
    t.equal(del.headers['mcp-session-id'], upstreamId, 'the client\'s bound id was unwrapped to Ragie\'s own')
    t.notOk(f.upstream.sessions.has(upstreamId), 'the upstream session is gone')
  })
})

t.test('a non-member cannot even initialize, and nothing reaches upstream', async t => {
  const f = await startFixtures(t)
  const url = await gatewayUrl(t, f)
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${f.token(STRANGER)}` } } })
  const client = new Client({ name: 'gateway-test', version: '1.0.0' })
  t.teardown(() => client.close())
  await t.rejects(client.connect(transport), /403|forbidden/i)
  t.equal(f.upstream.requests.length, 0)
})
