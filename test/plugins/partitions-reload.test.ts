import t from 'tap'
import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import gateway from '../../app.ts'
import { captureLogs, startFixtures, MEMBER, ORG, OTHER_ORG } from '../helper.ts'
import type { Fixtures, TestContext } from '../helper.ts'
import { until } from '../fixtures/until.ts'

// Not helper.build: fastify-cli's close-with-grace takes SIGHUP as a signal to shut down.
async function buildPlain (t: TestContext, env: Record<string, string>, logs?: ReturnType<typeof captureLogs>): Promise<FastifyInstance> {
  const app = Fastify({ logger: logs === undefined ? false : { level: 'info', stream: logs.stream } })
  t.teardown(() => app.close())
  await app.register(gateway, { env })
  await app.ready()
  return app
}

async function upstreamPathOf (app: FastifyInstance, f: Fixtures): Promise<string | undefined> {
  const before = f.upstream.requests.length
  const res = await app.inject({ method: 'GET', url: `/${ORG}/mcp/raw/echo`, headers: { authorization: `Bearer ${f.token()}` } })
  if (res.statusCode !== 200) return `status ${res.statusCode}`
  return f.upstream.requests[before]?.url
}

t.test('SIGHUP reloads the mapping file; an invalid new file keeps the old mapping', async t => {
  const f = await startFixtures(t)
  const dir = t.testdir({ 'mapping.json': JSON.stringify({ [ORG]: 'first' }) })
  const file = join(dir, 'mapping.json')
  const logs = captureLogs()
  const app = await buildPlain(t, { ...f.env, MAPPING_FILE: file, STRICT_MAPPING: 'true' }, logs)

  t.equal(await upstreamPathOf(app, f), '/mcp/first/raw/echo')

  writeFileSync(file, JSON.stringify({ [ORG]: { partition: 'second' } }))
  process.emit('SIGHUP', 'SIGHUP')
  t.equal(await upstreamPathOf(app, f), '/mcp/second/raw/echo', 'the new partition is used at once')
  t.ok(logs.lines.some(l => /mapping file reloaded/.test(l) && /"entries":1/.test(l)))

  writeFileSync(file, '{ "org_01K8BHJC61A42KN38TB98HZHTQ": "Not Valid!" }')
  process.emit('SIGHUP', 'SIGHUP')
  t.equal(await upstreamPathOf(app, f), '/mcp/second/raw/echo', 'a bad file changes nothing')
  t.ok(logs.lines.some(l => /keeping the current mapping/.test(l) && /Not Valid!/.test(l)), 'the log says why')

  writeFileSync(file, '{}')
  process.emit('SIGHUP', 'SIGHUP')
  t.equal(await upstreamPathOf(app, f), 'status 404', 'strict mode: an organization removed from the file is refused')
})

t.test('closing the app removes its SIGHUP listener', async t => {
  const f = await startFixtures(t)
  const dir = t.testdir({ 'mapping.json': JSON.stringify({ [ORG]: 'first' }) })
  const before = process.listenerCount('SIGHUP')
  const app = await buildPlain({ teardown: () => {} }, { ...f.env, MAPPING_FILE: join(dir, 'mapping.json') })
  t.equal(process.listenerCount('SIGHUP'), before + 1)
  await app.close()
  t.equal(process.listenerCount('SIGHUP'), before)
})

t.test('MAPPING_WATCH reloads on a change of the file, and on a file replaced by a rename', async t => {
  const f = await startFixtures(t)
  const dir = t.testdir({ 'mapping.json': JSON.stringify({ [ORG]: 'first' }) })
  const file = join(dir, 'mapping.json')
  const logs = captureLogs()
  const app = await buildPlain(t, { ...f.env, MAPPING_FILE: file, MAPPING_WATCH: 'true' }, logs)
  const reloads = () => logs.lines.filter(l => /mapping file reloaded/.test(l)).length
  async function untilReloaded (count: number): Promise<void> {
    for (let i = 0; i < 100 && reloads() < count; i++) await new Promise(resolve => setTimeout(resolve, 50))
  }

  writeFileSync(file, JSON.stringify({ [ORG]: 'second' }))
  await untilReloaded(1)
  t.equal(await upstreamPathOf(app, f), '/mcp/second/raw/echo')

  writeFileSync(join(dir, 'next.json'), JSON.stringify({ [ORG]: 'third' }))
  renameSync(join(dir, 'next.json'), file)
  await untilReloaded(2)
  t.equal(await upstreamPathOf(app, f), '/mcp/third/raw/echo')

  writeFileSync(file, 'not json')
  const refused = () => logs.lines.some(l => /mapping file not reloaded: keeping the current mapping/.test(l))
  for (let i = 0; i < 100 && !refused(); i++) await new Promise(resolve => setTimeout(resolve, 50))
  t.ok(refused(), 'the bad file was read, and refused')
  t.equal(await upstreamPathOf(app, f), '/mcp/third/raw/echo', 'a bad file changes nothing')
})

t.test('a reload that moves an organization to another partition ends its sessions: 404, nothing sent to the new partition', async t => {
  const f = await startFixtures(t)
  const dir = t.testdir({ 'mapping.json': JSON.stringify({ [ORG]: 'first' }) })
  const file = join(dir, 'mapping.json')
  const app = await buildPlain(t, { ...f.env, MAPPING_FILE: file })
  const post = (body: object, sessionId?: string) => app.inject({
    method: 'POST',
    url: `/${ORG}/mcp`,
    headers: {
      authorization: `Bearer ${f.token()}`,
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': '2025-06-18',
      ...(sessionId === undefined ? {} : { 'mcp-session-id': sessionId })
    },
    payload: JSON.stringify(body)
  })
  const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'reload-test', version: '1.0.0' } } })
  t.equal(init.statusCode, 200, init.body)
  const session = String(init.headers['mcp-session-id'])
  const listTools = { jsonrpc: '2.0', id: 2, method: 'tools/list' }
  t.equal((await post(listTools, session)).statusCode, 200, 'the session works where it was made')
  t.equal(f.upstream.requests.at(-1)?.url, '/mcp/first/')

  writeFileSync(file, JSON.stringify({ [ORG]: 'second' }))
  process.emit('SIGHUP', 'SIGHUP')
  const before = f.upstream.requests.length
  const moved = await post(listTools, session)
  t.equal(moved.statusCode, 404, 'the client starts a new session, as MCP has it do on a 404')
  t.same(moved.json(), { error: 'not_found', error_description: 'no such session' })
  t.equal(f.upstream.requests.length, before, 'the old session id was not sent to the new partition')
  const again = await post({ jsonrpc: '2.0', id: 3, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'reload-test', version: '1.0.0' } } })
  t.equal(again.statusCode, 200)
  t.equal(f.upstream.requests.at(-1)?.url, '/mcp/second/', 'a new session is made in the new partition')
})

t.test('a reload ends the open event streams of an organization whose route changed, and only those', async t => {
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: MEMBER, organizationId: OTHER_ORG, status: 'active', role: 'member' })
  const dir = t.testdir({ 'mapping.json': JSON.stringify({ [ORG]: 'first', [OTHER_ORG]: 'other' }) })
  const file = join(dir, 'mapping.json')
  const logs = captureLogs()
  const app = await buildPlain(t, { ...f.env, MAPPING_FILE: file, STRICT_MAPPING: 'true' }, logs)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const open = async (org: string) => {
    const res = await fetch(`${base}/${org}/mcp/raw/sse`, { headers: { authorization: `Bearer ${f.token()}`, accept: 'text/event-stream' } })
    t.equal(res.status, 200)
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    let bytes = 0
    const ended = (async () => {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        bytes += value.length
      }
    })()
    return { ended, bytes: () => bytes }
  }
  const moved = await open(ORG)
  const kept = await open(OTHER_ORG)
  await until(() => moved.bytes() > 0 && kept.bytes() > 0)

  writeFileSync(file, JSON.stringify({ [ORG]: 'second', [OTHER_ORG]: 'other' }))
  process.emit('SIGHUP', 'SIGHUP')
  const settled = await Promise.race([moved.ended.then(() => true), sleep(1000).then(() => false)])
  t.ok(settled, 'the stream of the organization moved to another partition ended')
  const before = kept.bytes()
  await until(() => kept.bytes() > before)
  t.pass('the other organization\'s stream goes on')
  t.ok(logs.lines.some(l => /mapping file reloaded/.test(l) && /"streamsEnded":1/.test(l)), 'the log says how many ended')
})
