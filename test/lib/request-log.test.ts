import t from 'tap'
import pino from 'pino'
import Fastify from 'fastify'
import { options } from '../../app.ts'
import { REQUEST_COMPLETED, canWriteRequestLines, writeRequestLine } from '../../lib/request-log.ts'
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
