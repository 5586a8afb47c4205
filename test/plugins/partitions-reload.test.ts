import t from 'tap'
import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import gateway from '../../app.ts'
import { captureLogs, startFixtures, ORG } from '../helper.ts'
import type { Fixtures, TestContext } from '../helper.ts'

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
  await new Promise(resolve => setTimeout(resolve, 600))
  t.equal(await upstreamPathOf(app, f), '/mcp/third/raw/echo', 'a bad file changes nothing')
})
