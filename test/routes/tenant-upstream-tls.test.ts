import t from 'tap'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import selfsigned from 'selfsigned'
import { build, startFixtures, ORG, RAGIE_KEY } from '../helper.ts'

t.test('an upstream whose certificate is not trusted gets no request and no Ragie key: 502', async t => {
  const f = await startFixtures(t)
  const pems = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }]
  })
  const received: string[] = []
  let handshakes = 0
  const impostor = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    received.push(String(req.headers.authorization))
    res.end('{}')
  })
  impostor.on('secureConnection', () => { handshakes++ })
  await new Promise<void>(resolve => impostor.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { impostor.closeAllConnections(); impostor.close(() => resolve()) }))
  const { port } = impostor.address() as AddressInfo

  const app = await build(t, { ...f.env, RAGIE_MCP_SERVER_URL: `https://127.0.0.1:${port}` })
  const res = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token()}` } })
  t.equal(res.statusCode, 502)
  t.equal(res.json().error, 'bad_gateway')
  t.notOk(res.body.includes(String(port)), 'the body names no upstream')
  t.same(received, [], 'the impostor received no request, so never saw the Ragie key')
  t.equal(handshakes, 0, 'no TLS session was completed with it')
  t.notOk(received.includes(`Bearer ${RAGIE_KEY}`))
})
