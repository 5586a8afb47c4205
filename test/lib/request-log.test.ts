import t from 'tap'
import type { Test } from 'tap'
import pino from 'pino'
import Fastify from 'fastify'
import { options } from '../../app.ts'
import { REQUEST_COMPLETED, canWriteRequestLines, requestChildLogger, writeRequestLine } from '../../lib/request-log.ts'
import type { RequestLine } from '../../lib/request-log.ts'

function capture () {
  const lines: string[] = []
  return { lines, stream: { write: (line: string) => { lines.push(line) } } }
}

// The logger server.ts makes (app.ts options), as Fastify makes it, and a request's child of it.
function gatewayLogger () {
  const { lines, stream } = capture()
  const fastify = Fastify({ logger: { ...(options.logger as Record<string, unknown>), level: 'info', stream } })
  return { lines, root: fastify.log, child: fastify.log.child({ reqId: 'req-1f' }) }
}

t.test('the direct line is the one pino writes, byte for byte', async t => {
  const { lines, root, child } = gatewayLogger()
  t.ok(canWriteRequestLines(root), 'the gateway\'s own logger qualifies')
  const values = ['org_01ABC', 'user_01X', '', 'a"b', 'back\\slash', 'tab\there', 'new\nline', '\u0000\u001f', 'é🔐', 'x'.repeat(300), '</script>', '\u2028']
  const lineOf = (i: number): RequestLine => ({
    method: i % 3 === 0 ? 'POST' : 'GET',
    route: i % 5 === 0 ? '(not found)' : '/:org/mcp/*',
    org: i % 4 === 0 ? undefined : values[i % values.length],
    user: i % 6 === 0 ? undefined : values[(i + 1) % values.length],
    partition: i % 7 === 0 ? undefined : values[(i + 2) % values.length],
    rpcMethod: i % 2 === 0 ? undefined : values[(i + 3) % values.length],
    tool: i % 3 === 1 ? values[(i + 4) % values.length] : undefined,
    status: [200, 401, 404, 502][i % 4],
    ms: [0, 1.5, 12.3, 1e21, NaN, -0][i % 6]
  })
  for (let i = 0; i < 200; i++) {
    const line = lineOf(i)
    child.info(line, REQUEST_COMPLETED)
    writeRequestLine(child, line)
  }
  t.equal(lines.length, 400)
  let differ = 0
  for (let i = 0; i < lines.length; i += 2) {
    // The two were written a moment apart: only their times may differ.
    const [byPino, direct] = [lines[i], lines[i + 1]].map(l => l.replace(/"time":\d+/, '"time":0'))
    if (byPino !== direct && ++differ <= 3) t.equal(direct, byPino, `line ${i / 2}`)
  }
  t.equal(differ, 0, 'no line differs')
  t.match(JSON.parse(lines[1]), { level: 30, reqId: 'req-1f', msg: REQUEST_COMPLETED })
})

t.test('a lone surrogate is written escaped, where pino writes the code unit itself', async t => {
  const { lines, child } = gatewayLogger()
  writeRequestLine(child, { method: 'POST', route: '/:org/mcp', user: 'u\ud800', status: 200, ms: 1 })
  t.match(lines[0], /"user":"u\\ud800"/)
  t.equal(JSON.parse(lines[0]).user, 'u\ud800')
})

t.test('a logger whose options change the line does not qualify', async t => {
  const { stream } = capture()
  t.notOk(canWriteRequestLines(pino({ mixin: () => ({ extra: 1 }) }, stream)), 'mixin')
  t.notOk(canWriteRequestLines(pino({ formatters: { log: (o: Record<string, unknown>) => o } }, stream)), 'log formatter')
  t.notOk(canWriteRequestLines(pino({ messageKey: 'message' }, stream)), 'message key')
  t.notOk(canWriteRequestLines(pino({ msgPrefix: '[gw] ' }, stream)), 'message prefix')
  t.notOk(canWriteRequestLines(pino({ hooks: { logMethod (args, method) { method.apply(this, args) } } }, stream)), 'logMethod hook')
  t.notOk(canWriteRequestLines(pino({}, Object.assign({ write () {} }, { [Symbol.for('pino.metadata')]: true }))), 'a stream that wants metadata')
  t.notOk(canWriteRequestLines({ info () {} }), 'not pino at all')
  t.ok(canWriteRequestLines(pino({ redact: ['req.headers.authorization'] }, stream)), 'redaction of other keys does not change this line')
})

// Lines from a request's logger as the gateway makes it, and as pino's own child makes it.
function bothChildren (opts: Record<string, unknown>, reqId = 'req-1f') {
  const { lines, stream } = capture()
  const root = pino(opts as pino.LoggerOptions, stream)
  const quick = requestChildLogger(root, { reqId }, {}) as pino.Logger
  const own = root.child({ reqId }, {})
  return { lines, root, quick, own }
}

function sameLines (t: Test, lines: string[]): void {
  t.ok(lines.length > 0 && lines.length % 2 === 0, 'lines written in pairs')
  for (let i = 0; i < lines.length; i += 2) {
    const [quick, own] = [lines[i], lines[i + 1]].map(l => l.replace(/"time":\d+/, '"time":0'))
    t.equal(quick, own, `line ${i / 2}`)
  }
}

t.test('a request\'s logger writes the lines pino\'s own child writes, byte for byte', async t => {
  for (const reqId of ['req-1f', 'a"b\\c', 'é🔐\n', '']) {
    const { lines, quick, own } = bothChildren({ ...(options.logger as Record<string, unknown>) }, reqId)
    t.not(quick, own)
    for (const log of [quick, own]) log.info({ req: { headers: { authorization: 'Bearer secret', x: 1 } } }, 'with a redacted field')
    for (const log of [quick, own]) log.warn({ code: 'GW_X' }, 'a warning')
    for (const log of [quick, own]) log.child({ more: 1 }).error('a grandchild')
    for (const log of [quick, own]) writeRequestLine(log, { method: 'POST', route: '/:org/mcp', status: 200, ms: 1 })
    t.same(quick.bindings(), own.bindings())
    sameLines(t, lines)
    t.notMatch(lines.join(''), /secret/)
    t.equal(JSON.parse(lines[0]).reqId, reqId)
  }
})

t.test('a request\'s logger follows its root\'s level, as pino\'s own child does', async t => {
  const { lines, root, quick, own } = bothChildren({})
  quick.debug('not written'); own.debug('not written')
  root.level = 'debug'
  quick.debug('written'); own.debug('written')
  t.equal(lines.length, 2)
  sameLines(t, lines)
})

t.test('every other request logger is made by pino itself', async t => {
  const { stream } = capture()
  const made: unknown[] = []
  const cases: Array<[string, pino.Logger, Record<string, unknown>, Record<string, unknown>]> = [
    ['a route\'s own level', pino({}, stream), { reqId: 'r' }, { level: 'warn' }],
    ['a route\'s serializers', pino({}, stream), { reqId: 'r' }, { serializers: {} }],
    ['more bindings than the id', pino({}, stream), { reqId: 'r', other: 1 }, {}],
    ['another id label', pino({}, stream), { requestId: 'r' }, {}],
    ['an id that is no string', pino({}, stream), { reqId: 7 }, {}],
    ['an onChild hook', pino({ onChild: c => { made.push(c) } }, stream), { reqId: 'r' }, {}],
    ['a serializer for reqId', pino({ serializers: { reqId: (v: string) => v.toUpperCase() } }, stream), { reqId: 'r' }, {}],
    ['redaction of reqId', pino({ redact: ['reqId'] }, stream), { reqId: 'r' }, {}],
    ['a wildcard redaction', pino({ redact: ['*.secret'] }, stream), { reqId: 'r' }, {}]
  ]
  for (const [name, root, bindings, opts] of cases) {
    const child = requestChildLogger(root, bindings, opts) as pino.Logger
    t.equal(Object.getPrototypeOf(child), root, name)
  }
  t.equal(made.length, 1, 'the onChild hook ran')
  const child = requestChildLogger(pino({ serializers: { reqId: (v: string) => v.toUpperCase() } }, stream), { reqId: 'r' }, {}) as pino.Logger
  t.same(child.bindings(), { reqId: 'R' })
  const other = { child: (b: unknown, o: unknown) => ({ b, o }) }
  t.same(requestChildLogger(other, { reqId: 'r' }, {}), { b: { reqId: 'r' }, o: {} }, 'a logger not of pino')
})

t.test('the gateway\'s request logs carry their request\'s id', async t => {
  const { lines, stream } = capture()
  const fastify = Fastify({ ...options, logger: { ...(options.logger as Record<string, unknown>), level: 'info', stream } })
  const parents: unknown[] = []
  fastify.get('/x', async request => {
    parents.push(Object.getPrototypeOf(request.log))
    request.log.info('in the handler')
    return 'ok'
  })
  t.teardown(() => fastify.close())
  const first = await fastify.inject('/x')
  const second = await fastify.inject('/x')
  t.equal(first.statusCode, 200)
  const ids = lines.map(l => JSON.parse(l)).filter(l => l.msg === 'in the handler').map(l => l.reqId)
  t.equal(ids.length, 2)
  t.not(ids[0], ids[1])
  t.ok(ids.every(id => typeof id === 'string' && id.length > 0))
  t.equal(second.statusCode, 200)
  t.ok(parents.every(p => p !== fastify.log && Object.getPrototypeOf(p) === fastify.log), 'made over one child of the root, not by pino each time')
})
