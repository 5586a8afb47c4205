import t from 'tap'
import { startFixtures, ROOT, MEMBER, ORG } from './helper.ts'
import { runNode } from './fixtures/process.ts'

const LOOPS = 8

interface Outcome {
  n: number
  status: number | null
  retryAfter: string | null
  /** The answer's body, read to its end; null when reading it failed. */
  body: string | null
}

t.test('SIGTERM under load: every request answered 2xx was whole and reached upstream, and the process exits 0', async t => {
  const f = await startFixtures(t)
  const proc = runNode(ROOT, ['server.ts'], { ...f.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', NODE_ENV: 'production', SHUTDOWN_GRACE_SECONDS: '1' })
  t.teardown(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL') })
  const port = await proc.listening
  const authorization = `Bearer ${f.token(MEMBER)}`
  const outcomes: Outcome[] = []
  let next = 0
  let answered = 0
  let signalled: () => void
  const signal = new Promise<void>(resolve => { signalled = resolve })

  // Each loop sends until the gateway stops answering: some requests are slow, so that several are
  // in flight at the moment of the signal.
  async function loop (id: number): Promise<void> {
    for (;;) {
      const n = next++
      const path = n % 5 === id % 5 ? 'raw/slow/150' : 'raw/echo'
      const outcome: Outcome = { n, status: null, retryAfter: null, body: null }
      outcomes.push(outcome)
      try {
        const res = await fetch(`http://127.0.0.1:${port}/${ORG}/mcp/${path}?n=${n}`, {
          method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ n })
        })
        outcome.status = res.status
        outcome.retryAfter = res.headers.get('retry-after')
        outcome.body = await res.text().catch(() => null)
      } catch {
        return
      }
      if (outcome.status !== 200) return
      if (++answered === 200) signalled()
    }
  }

  const loops = Array.from({ length: LOOPS }, (_, id) => loop(id))
  // Every loop stopped before 200 answers: a failure to report, not a wait for ever.
  await Promise.race([signal, Promise.all(loops).then(() => { throw new Error(`the loops stopped after ${answered} answers`) })])
  proc.child.kill('SIGTERM')
  await Promise.all(loops)
  const exit = await proc.exited

  t.same(exit, { code: 0, signal: null }, 'exit 0')
  const ok = outcomes.filter(o => o.status !== null && o.status >= 200 && o.status < 300)
  t.ok(ok.length >= 200, `${ok.length} requests answered 2xx`)
  const received = new Set(f.upstream.requests.map(r => r.url))
  let lost = 0
  for (const o of ok) {
    const slow = o.body?.includes('"slow":true') === true
    const whole = o.body !== null && (slow || JSON.parse(o.body).url?.endsWith(`?n=${o.n}`) === true)
    const upstream = [...received].some(url => url.endsWith(`?n=${o.n}`))
    if (!whole || !upstream) lost++
  }
  t.equal(lost, 0, 'no 2xx answer was cut short or missing upstream')
  const others = outcomes.filter(o => o.status !== null && o.status !== 200 && o.status !== 503)
  t.same(others.map(o => o.status), [], 'every answer was 200, or 503 once closing')
  // A 503 while closing is the gateway's own: its JSON error shape, a Retry-After, and a line.
  for (const o of outcomes.filter(o => o.status === 503)) {
    t.same(JSON.parse(o.body ?? '{}'), { error: 'temporarily_unavailable', error_description: 'the gateway is shutting down, retry' }, `503 for ${o.n}`)
    t.equal(o.retryAfter, '1')
  }
  const lines = proc.stdout.filter(l => l.includes('"msg":"request completed"'))
  t.equal(lines.filter(l => l.includes('"status":503')).length, outcomes.filter(o => o.status === 503).length, 'each 503 has its request line')
})
