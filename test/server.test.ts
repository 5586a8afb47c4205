import t from 'tap'
import type { Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { startFixtures, ORG, MEMBER, RAGIE_KEY } from './helper.ts'
import { kernelBacklogCap } from '../lib/backlog.ts'
import { serverEnv, startServer, untilLogged } from './fixtures/server.ts'
import type { GatewayProcess } from './fixtures/process.ts'

/** One line on stderr, naming what is wrong, and nothing that looks like a stack trace. */
function assertOneClearLine (t: Test, proc: GatewayProcess, pattern: RegExp): void {
  const text = proc.stderr.join('\n')
  t.equal(proc.stderr.length, 1, `exactly one line: ${text}`)
  t.match(text, pattern)
  t.notMatch(text, /\n\s+at |Error:|node:internal/, 'no stack trace')
}

t.test('npm start with -m and -s serves a mapped member through the MCP SDK client', async t => {
  const f = await startFixtures(t)
  const dir = t.testdir({ 'mapping.json': JSON.stringify({ [ORG]: 'soc2' }) })
  const proc = startServer(t, ['-m', join(dir, 'mapping.json'), '-s'], serverEnv(f))
  const port = await proc.listening
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/${ORG}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${f.token(MEMBER)}` } }
  })
  const client = new Client({ name: 'server-test', version: '1.0.0' })
  await client.connect(transport)
  const result = await client.callTool({ name: 'whoami', arguments: {} })
  t.same(JSON.parse((result.content as Array<{ text: string }>)[0].text), { partition: 'soc2' })
  await client.close()

  const unmapped = await fetch(`http://127.0.0.1:${port}/org_01UNMAPPED/mcp`, {
    method: 'POST', headers: { authorization: `Bearer ${f.token(MEMBER)}`, 'content-type': 'application/json' }, body: '{}'
  })
  t.equal(unmapped.status, 404, 'strict mode refuses an unmapped organization')

  proc.child.kill('SIGTERM')
  t.same(await proc.exited, { code: 0, signal: null })
  const logs = [...proc.stdout, ...proc.stderr].join('\n')
  t.notOk(logs.includes(RAGIE_KEY), 'the Ragie key is never logged')
  t.notOk(logs.includes(f.token(MEMBER).split('.')[2]), 'no token signature is logged')
  t.ok(proc.stdout.some(line => /"route":"\/:org\/mcp"/.test(line) && /"user":"user_01MEMBER/.test(line)), 'one request line with route and user')
})

t.test('--long flags and MAPPING_FILE/STRICT_MAPPING variables work the same', async t => {
  const f = await startFixtures(t)
  const dir = t.testdir({ 'mapping.json': JSON.stringify({ [ORG]: { partition: 'soc2' } }) })
  for (const [args, extra] of [
    [['--mapping-file', join(dir, 'mapping.json'), '--strict-mapping'], {}],
    [[], { MAPPING_FILE: join(dir, 'mapping.json'), STRICT_MAPPING: 'true' }]
  ] as Array<[string[], Record<string, string>]>) {
    const proc = startServer(t, args, serverEnv(f, extra))
    const port = await proc.listening
    const res = await fetch(`http://127.0.0.1:${port}/org_01UNMAPPED/mcp`, { headers: { authorization: `Bearer ${f.token(MEMBER)}` } })
    t.equal(res.status, 404, `strict via ${args.length > 0 ? 'flags' : 'variables'}`)
    proc.child.kill('SIGTERM')
    t.equal((await proc.exited).code, 0)
  }
})

t.test('start-up failures: one clear line and a non-zero exit', async t => {
  const f = await startFixtures(t)
  const dir = t.testdir({
    'broken.json': '{ not json',
    'badpartition.json': JSON.stringify({ [ORG]: 'Bad Name!' })
  })

  await t.test('missing variable', async t => {
    const env = serverEnv(f)
    delete env.RAGIE_API_KEY
    const proc = startServer(t, [], env)
    t.equal((await proc.exited).code, 1)
    assertOneClearLine(t, proc, /RAGIE_API_KEY is required/)
  })

  await t.test('malformed variable', async t => {
    const proc = startServer(t, [], serverEnv(f, { BASE_URL: 'not a url' }))
    t.equal((await proc.exited).code, 1)
    assertOneClearLine(t, proc, /BASE_URL must be/)
  })

  await t.test('mapping file that is not JSON', async t => {
    const proc = startServer(t, ['-m', join(dir, 'broken.json')], serverEnv(f))
    t.equal((await proc.exited).code, 1)
    assertOneClearLine(t, proc, /broken\.json is not valid JSON/)
  })

  await t.test('mapping file with a bad partition names the entry', async t => {
    const proc = startServer(t, ['-m', join(dir, 'badpartition.json')], serverEnv(f))
    t.equal((await proc.exited).code, 1)
    assertOneClearLine(t, proc, new RegExp(`badpartition\\.json: entry "${ORG}": partition "Bad Name!"`))
  })

  await t.test('missing mapping file', async t => {
    const proc = startServer(t, ['-m', join(dir, 'nope.json')], serverEnv(f))
    t.equal((await proc.exited).code, 1)
    assertOneClearLine(t, proc, /nope\.json does not exist/)
  })

  await t.test('-s without -m', async t => {
    const proc = startServer(t, ['-s'], serverEnv(f))
    t.equal((await proc.exited).code, 1)
    assertOneClearLine(t, proc, /--strict-mapping needs a mapping file/)
  })

  await t.test('a backlog that is not a positive number', async t => {
    const proc = startServer(t, [], serverEnv(f, { LISTEN_BACKLOG: '0' }))
    t.equal((await proc.exited).code, 1)
    assertOneClearLine(t, proc, /LISTEN_BACKLOG must be a positive whole number of connections/)
  })

  await t.test('a timer setting past what Node\'s timers take, and a cache too large to allocate', async t => {
    for (const [name, value, message] of [
      ['SSE_IDLE_TIMEOUT', '9999999', /SSE_IDLE_TIMEOUT must be at most 2000000 seconds/],
      ['SSE_KEEPALIVE', '2147484', /SSE_KEEPALIVE must be at most 2000000 seconds/],
      ['SHUTDOWN_GRACE_SECONDS', '999999999', /SHUTDOWN_GRACE_SECONDS must be at most 2000000 seconds/],
      ['MEMBERSHIP_CACHE_MAX', '100000000', /MEMBERSHIP_CACHE_MAX must be at most 1000000 entries/]
    ] as const) {
      const proc = startServer(t, [], serverEnv(f, { [name]: value }))
      t.equal((await proc.exited).code, 1, name)
      assertOneClearLine(t, proc, message)
    }
  })

  await t.test('unknown flag', async t => {
    const proc = startServer(t, ['--nope'], serverEnv(f))
    t.equal((await proc.exited).code, 1)
    assertOneClearLine(t, proc, /Unknown option '--nope'/)
  })

  await t.test('--help prints the flags and exits 0', async t => {
    const proc = startServer(t, ['--help'], serverEnv(f))
    t.equal((await proc.exited).code, 0)
    t.match(proc.stdout.join('\n'), /--mapping-file[\s\S]*--strict-mapping/)
  })
})

/** The accept queue the kernel gave a listening socket: `ss` shows it as Send-Q. */
function acceptQueueLimit (port: number): number {
  const line = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim()
  const [, , sendQ] = line.split(/\s+/)
  return Number(sendQ)
}

const cap = kernelBacklogCap()
t.test('server.ts listens with LISTEN_BACKLOG (default 4096), not Node\'s 511, and says when the kernel caps it', {
  skip: cap === undefined ? 'no net.core.somaxconn on this host' : false
}, async t => {
  if (cap === undefined) return
  const f = await startFixtures(t)
  for (const asked of [undefined, '1000', String(cap + 1)]) {
    const requested = Number(asked ?? 4096)
    const proc = startServer(t, [], serverEnv(f, asked === undefined ? {} : { LISTEN_BACKLOG: asked }))
    const port = await proc.listening
    t.equal(acceptQueueLimit(port), Math.min(requested, cap), `accept queue for LISTEN_BACKLOG=${asked ?? '(default)'}`)
    const warned = () => proc.stdout.some(l => /net\.core\.somaxconn/.test(l))
    if (requested > cap) {
      await untilLogged(proc, /net\.core\.somaxconn/)
      t.ok(warned(), 'one warning names the kernel cap')
    }
    proc.child.kill('SIGTERM')
    t.equal((await proc.exited).code, 0)
    if (requested <= cap) t.notOk(warned(), 'no warning when the kernel gives what was asked')
  }
})
