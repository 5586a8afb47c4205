import t from 'tap'
import { PassThrough } from 'node:stream'
import type { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { createStreamRegistry } from '../../lib/streams.ts'
import type { RelayedStream } from '../../lib/streams.ts'
import { until } from '../fixtures/until.ts'

const ALICE_A = { userId: 'user_alice', org: 'org_A' }

/**
 * An upstream event stream, as the proxy's answer bodies are (lib/upstream-request.ts): written to
 * as Ragie would, read as the client would, and `released` once the registry has ended it.
 */
class Source extends PassThrough implements RelayedStream {
  released = false

  endCleanly (): void {
    if (this.released) return
    this.released = true
    this.end()
  }

  relay (chunk: Buffer): boolean {
    if (this.writableEnded || this.destroyed) return false
    this.push(chunk)
    return true
  }
}

/** Everything the client side receives, and whether it ended cleanly or with an error. */
function collect (client: Readable): { text: () => string, ended: Promise<'end' | Error> } {
  const chunks: Buffer[] = []
  client.on('data', (chunk: Buffer) => chunks.push(chunk))
  const ended = new Promise<'end' | Error>(resolve => {
    client.on('end', () => resolve('end'))
    client.on('error', resolve)
  })
  return { text: () => Buffer.concat(chunks).toString(), ended }
}

t.test('an idle stream gets pings, never inside an event', async t => {
  const registry = createStreamRegistry({ keepAliveMs: 20, idleTimeoutMs: 0 })
  const upstream = new Source()
  const out = collect(registry.track(upstream, ALICE_A))
  t.teardown(() => registry.endAll())

  await until(() => out.text().includes(': ping\n\n'))
  t.match(out.text(), /^(: ping\n\n)+$/, 'pings while nothing was sent')

  upstream.write('data: {"half":')
  await until(() => out.text().endsWith('data: {"half":'))
  const before = out.text()
  // Ten keep-alive periods with the event open: no ping may land inside it.
  await sleep(200)
  t.equal(out.text(), before, 'nothing inserted inside the event')
  upstream.write('1}\n\n')
  await until(() => out.text().endsWith('1}\n\n: ping\n\n'))
  t.pass('the next ping follows the end of the event')
  for (const event of out.text().split('\n\n').filter(Boolean)) {
    t.ok(event === ': ping' || event === 'data: {"half":1}', `a whole frame: ${JSON.stringify(event)}`)
  }
})

t.test('a stream that keeps sending gets no pings', async t => {
  const registry = createStreamRegistry({ keepAliveMs: 50, idleTimeoutMs: 0 })
  const upstream = new Source()
  const out = collect(registry.track(upstream, ALICE_A))
  for (let i = 0; i < 20; i++) {
    upstream.write(`data: ${i}\n\n`)
    await sleep(10)
  }
  upstream.end()
  t.equal(await out.ended, 'end')
  t.notOk(out.text().includes(': ping'))
})

t.test('a stream tracked without keep-alive passes byte for byte, with no pings, and still ends when idle', async t => {
  const registry = createStreamRegistry({ keepAliveMs: 10, idleTimeoutMs: 300 })
  const upstream = new Source()
  const chunks: Buffer[] = []
  const client = registry.track(upstream, ALICE_A, undefined, { keepAlive: false })
  client.on('data', (chunk: Buffer) => chunks.push(chunk))
  const ended = new Promise<string>(resolve => client.on('end', () => resolve('end')))
  // Bytes that are no event stream (compressed), then silence: a ping here would be read as part of them.
  const bytes = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x0a, 0x0a, 0x00, 0x00, 0xff, 0xff])
  await sleep(50)
  t.equal(chunks.length, 0, 'nothing sent during five keep-alive periods before the first byte')
  upstream.write(bytes)
  await sleep(50)
  t.same(Buffer.concat(chunks), bytes, 'exactly the bytes sent, after five more periods')
  t.equal(await ended, 'end', 'ended cleanly once silent for the idle timeout')
  t.equal(registry.size, 0)
})

t.test('an upstream silent past the idle timeout is ended cleanly, and released', async t => {
  const registry = createStreamRegistry({ keepAliveMs: 0, idleTimeoutMs: 50 })
  const upstream = new Source()
  const out = collect(registry.track(upstream, ALICE_A))
  upstream.write('data: 1\n\n')
  t.equal(await out.ended, 'end', 'a clean end, not an error')
  t.equal(out.text(), 'data: 1\n\n')
  t.ok(upstream.released, 'the upstream request is released')
  t.equal(registry.size, 0)
})

t.test('a stream that ends or fails is released', async t => {
  const registry = createStreamRegistry({ keepAliveMs: 10, idleTimeoutMs: 1000 })
  const ended = new Source()
  const out = collect(registry.track(ended, ALICE_A))
  const failed = new Source()
  registry.track(failed, ALICE_A).on('error', () => {})
  t.equal(registry.size, 2)
  ended.end('data: 1\n\n')
  t.equal(await out.ended, 'end')
  failed.destroy(new Error('gone'))
  await until(() => registry.size === 0)
  t.equal(registry.size, 0, 'both released, their timers with them')
})

t.test('endAll ends every stream cleanly; a client that leaves releases its upstream', async t => {
  const registry = createStreamRegistry({ keepAliveMs: 10, idleTimeoutMs: 1000 })
  const upstreams = [new Source(), new Source(), new Source()]
  const clients = upstreams.map(u => registry.track(u, ALICE_A))
  const outs = clients.map(collect)
  t.equal(registry.size, 3)
  clients[2].destroy()
  await until(() => registry.size === 2)
  t.ok(upstreams[2].destroyed, 'the upstream of a client that left is closed')
  registry.endAll()
  t.equal(await outs[0].ended, 'end')
  t.equal(await outs[1].ended, 'end')
  t.ok(upstreams[0].released && upstreams[1].released)
  t.equal(registry.size, 0)
})

t.test('endFor ends the streams of one user in one organization, or in all of them, and no one else\'s', async t => {
  const registry = createStreamRegistry({ keepAliveMs: 0, idleTimeoutMs: 0 })
  const owners = [ALICE_A, ALICE_A, { userId: 'user_alice', org: 'org_B' }, { userId: 'user_bob', org: 'org_A' }]
  const upstreams = owners.map(() => new Source())
  const outs = upstreams.map((u, i) => collect(registry.track(u, owners[i])))
  t.teardown(() => registry.endAll())

  t.equal(registry.endFor('user_alice', 'org_A'), 2)
  t.equal(await outs[0].ended, 'end', 'a clean end: the client reconnects and meets the checks again')
  t.equal(await outs[1].ended, 'end')
  t.ok(upstreams[0].released && upstreams[1].released, 'their upstream requests are released')
  t.equal(registry.size, 2)

  t.equal(registry.endFor('user_alice'), 1, 'every organization of the user')
  t.equal(await outs[2].ended, 'end')
  t.equal(registry.size, 1)
  t.notOk(upstreams[3].released, 'another user\'s stream goes on')
  upstreams[3].write('data: still here\n\n')
  await until(() => outs[3].text() === 'data: still here\n\n')
  t.equal(registry.endFor('user_nobody'), 0)
})

t.test('a stream admitted before its user\'s streams were ended, opening only after, is ended as it opens', async t => {
  const clock = { ms: 1000 }
  const registry = createStreamRegistry({ keepAliveMs: 0, idleTimeoutMs: 0, rememberMs: 60_000, now: () => clock.ms })
  t.teardown(() => registry.endAll())
  const admitted = clock.ms
  clock.ms += 10
  registry.endFor('user_alice', 'org_A')
  clock.ms += 10

  const late = new Source()
  const lateOut = collect(registry.track(late, ALICE_A, admitted))
  t.equal(await lateOut.ended, 'end', 'its request came in before the ending: it ends at once, cleanly')
  t.ok(late.released, 'and its upstream request is released')
  t.equal(registry.size, 0)

  const after = new Source()
  const afterOut = collect(registry.track(after, ALICE_A, clock.ms))
  after.write('data: 1\n\n')
  await until(() => afterOut.text() === 'data: 1\n\n')
  t.equal(registry.size, 1, 'a request that came in after the ending flows')

  const elsewhere = new Source()
  collect(registry.track(elsewhere, { userId: 'user_alice', org: 'org_B' }, admitted))
  t.equal(registry.size, 2, 'the same user in another organization flows')

  registry.endFor('user_alice')
  clock.ms += 10
  const anyOrg = collect(registry.track(new Source(), { userId: 'user_alice', org: 'org_C' }, admitted))
  t.equal(await anyOrg.ended, 'end', 'after an ending of every organization of the user, any of them')

  // Remembered for rememberMs only.
  clock.ms += 60_001
  registry.endFor('user_bob', 'org_Z')
  const old = new Source()
  collect(registry.track(old, ALICE_A, admitted))
  t.notOk(old.released, 'an ending older than rememberMs is forgotten')
})

t.test('endAll ends every stream open now, and every one admitted before it that opens later', async t => {
  // A revocation channel back after a loss ends all streams: one whose request was admitted from
  // the stale cache, with Ragie's answer still to come, must not escape it.
  const clock = { ms: 1000 }
  const registry = createStreamRegistry({ keepAliveMs: 0, idleTimeoutMs: 0, now: () => clock.ms })
  t.teardown(() => registry.endAll())
  const admitted = clock.ms
  const open = collect(registry.track(new Source(), ALICE_A, admitted))
  clock.ms += 10
  registry.endAll()
  t.equal(await open.ended, 'end', 'the open one ends cleanly')
  clock.ms += 10
  const late = new Source()
  const lateOut = collect(registry.track(late, { userId: 'user_bob', org: 'org_Z' }, admitted))
  t.equal(await lateOut.ended, 'end', 'one admitted before, opening after, ends as it opens')
  t.ok(late.released, 'and its upstream request is released')

  const after = new Source()
  const afterOut = collect(registry.track(after, ALICE_A, clock.ms))
  after.write('data: 1\n\n')
  await until(() => afterOut.text() === 'data: 1\n\n')
  t.equal(registry.size, 1, 'one admitted after flows')
})

t.test('endForOrgs ends every stream of those organizations, open now or admitted before and opening later', async t => {
  const clock = { ms: 1000 }
  const registry = createStreamRegistry({ keepAliveMs: 0, idleTimeoutMs: 0, now: () => clock.ms })
  t.teardown(() => registry.endAll())
  const admitted = clock.ms
  const open = collect(registry.track(new Source(), ALICE_A, admitted))
  const other = new Source()
  collect(registry.track(other, { userId: 'user_bob', org: 'org_B' }, admitted))
  clock.ms += 10
  t.equal(registry.endForOrgs(['org_A']), 1)
  t.equal(await open.ended, 'end')
  t.notOk(other.released)
  const late = collect(registry.track(new Source(), { userId: 'user_carol', org: 'org_A' }, admitted))
  t.equal(await late.ended, 'end', 'a stream of that organization admitted before, opening now')
  t.equal(registry.endForOrgs([]), 0)
})
