import t from 'tap'
import { createServer } from 'node:net'
import type { Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { build, startFixtures, ORG } from '../helper.ts'

t.test('an upstream that accepts the connection but never completes the TLS handshake: 504, no internals', async t => {
  const f = await startFixtures(t)
  // TCP is accepted, the ClientHello is never answered: only the connect timeout can end this.
  const sockets = new Set<Socket>()
  const silent = createServer(socket => { sockets.add(socket); socket.on('error', () => {}) })
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => {
    for (const socket of sockets) socket.destroy()
    silent.close(() => resolve())
  }))
  const { port } = silent.address() as AddressInfo

  const app = await build(t, { ...f.env, RAGIE_MCP_SERVER_URL: `https://127.0.0.1:${port}`, UPSTREAM_CONNECT_TIMEOUT_MS: '300' })
  const res = await app.inject({ method: 'POST', url: `/${ORG}/mcp`, headers: { authorization: `Bearer ${f.token()}`, 'content-type': 'application/json' }, payload: '{}' })
  t.equal(res.statusCode, 504)
  t.same(res.json(), { error: 'gateway_timeout', error_description: 'the MCP server did not answer in time' })
  t.notOk(res.body.includes(String(port)), 'the body names no upstream')
  t.ok(sockets.size >= 1, 'the gateway did connect, and gave up on the handshake')
})
