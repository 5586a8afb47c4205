import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { build, startFixtures, ORG, OTHER_ORG, RAGIE_KEY, STRANGER, WORKOS_KEY } from '../helper.ts'
import type { TestContext } from '../helper.ts'
import { createPrng } from './prng.ts'
import { sendRaw } from './raw.ts'
import { startSpyUpstream } from './spy-upstream.ts'
import type { SpyRecord } from './spy-upstream.ts'
import { buildTokenPool } from './tokens.ts'
import { GOOD_ORIGIN, MEMBERS, makeCase } from './cases.ts'
import type { Case, CaseContext, IssuedSession } from './cases.ts'

export interface HostileOptions {
  seed: number
  count: number
  concurrency?: number
  /** Progress lines (the fuzz script prints them; the test keeps quiet). */
  log?: (line: string) => void
}

export interface HostileReport {
  seed: number
  sent: number
  statuses: Record<string, number>
  upstreamRequests: number
  /** Plain calls that got the answer they must get (200; 413 for an oversized body). */
  validPassed: number
  timeouts: number
  /** Every broken promise, one line each; the run is good when this is empty. */
  violations: string[]
  heapAfterWarmUp: number
  heapAtEnd: number
  alive: boolean
  ms: number
}

const BODY_LIMIT = 64 * 1024
const FORBIDDEN_IN_ANSWERS = [RAGIE_KEY, WORKOS_KEY, '\n    at ', 'ECONNREFUSED', '127.0.0.1']

/** A full garbage collection, when the run can get one (it asks V8 for the `gc` function itself). */
function collectGarbage (): void {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as (() => void) | undefined
  gc?.()
  gc?.()
}

/** What must hold of every request the upstream received. */
function checkUpstream (record: SpyRecord, cases: Map<number, Pick<Case, 'kind' | 'allowed'>>): string | null {
  const id = Number(record.fuzzId)
  const sent = cases.get(id)
  if (record.fuzzId === undefined || sent === undefined) return `upstream got a request that matches none sent: ${record.method} ${record.url.slice(0, 120)}`
  if (sent.allowed === null) return `#${id} (${sent.kind}) reached upstream without a valid token, membership, path, origin or session: ${record.method} ${record.url.slice(0, 120)}`
  const prefix = `/mcp/${sent.allowed.org.toLowerCase()}/`
  if (!record.url.startsWith(prefix)) return `#${id} reached ${record.url.slice(0, 120)}, outside ${prefix}`
  const path = record.url.split('?')[0]
  if (/%(2f|5c)/i.test(path) || path.includes('\\')) return `#${id}: an encoded separator reached upstream: ${path.slice(0, 120)}`
  for (const segment of path.split('/')) {
    let decoded = segment
    try { decoded = decodeURIComponent(segment) } catch {}
    // eslint-disable-next-line no-control-regex
    if (decoded === '.' || decoded === '..' || /[\u0000-\u001f\u007f]/.test(decoded)) return `#${id}: a dot segment or control character reached upstream: ${path.slice(0, 120)}`
  }
  if (record.authorization !== `Bearer ${RAGIE_KEY}`) return `#${id}: upstream got authorization ${String(record.authorization).slice(0, 30)}…, not the Ragie key`
  if (record.cookie !== undefined) return `#${id}: a cookie reached upstream`
  if ((record.sessionId ?? null) !== sent.allowed.session) return `#${id} (${sent.kind}): upstream got session ${record.sessionId}, expected ${sent.allowed.session}`
  return null
}

/**
 * Runs the hostile suite: AuthKit and WorkOS doubles, a spy upstream, and the gateway listening on
 * 127.0.0.1; `count` generated requests over raw sockets; then every upstream request is checked
 * against what was sent. Everything it starts is closed through `t`.
 */
export async function runHostile (t: TestContext, opts: HostileOptions): Promise<HostileReport> {
  const started = Date.now()
  const log = opts.log ?? (() => {})
  const f = await startFixtures(t)
  f.workos.addMembership({ userId: STRANGER, organizationId: OTHER_ORG, status: 'active', role: 'member' })
  const spy = await startSpyUpstream()
  t.teardown(() => spy.close())
  const app = await build(t, {
    ...f.env,
    RAGIE_MCP_SERVER_URL: spy.url,
    ALLOWED_ORIGINS: GOOD_ORIGIN,
    BODY_LIMIT: String(BODY_LIMIT),
    SESSION_SECRET: randomBytes(32).toString('base64url')
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const { good, bad } = buildTokenPool(f)

  // Sessions issued before the run, so the run itself is the same for the same seed.
  const sessions: IssuedSession[] = []
  for (const [sub, org] of MEMBERS) {
    const token = good.find(tk => tk.sub === sub && tk.validFor(org))?.token as string
    for (let i = 0; i < 3; i++) {
      const fuzzId = `setup-${sub}-${i}`
      const answer = await sendRaw(port, Buffer.from(`POST /${org}/mcp/session HTTP/1.1\r\nhost: gateway.test\r\nconnection: close\r\nx-fuzz-id: ${fuzzId}\r\nauthorization: Bearer ${token}\r\ncontent-length: 0\r\n\r\n`), false)
      const clientId = /\r\nmcp-session-id: *([^\r\n]+)/i.exec(answer.headers)?.[1]
      const upstreamId = [...spy.issued].find(([, by]) => by === fuzzId)?.[0]
      if (clientId === undefined || upstreamId === undefined) throw new Error(`setup: no session issued (${answer.status})`)
      sessions.push({ clientId, upstreamId, sub, org })
    }
  }
  spy.records.length = 0

  const ctx: CaseContext = { prng: createPrng(opts.seed), good, bad, sessions, bodyLimit: BODY_LIMIT }
  const sent = new Map<number, Pick<Case, 'kind' | 'allowed'>>()
  const statuses: Record<string, number> = {}
  const violations: string[] = []
  let timeouts = 0
  let validPassed = 0
  let next = 0
  const warmUp = Math.min(1000, Math.floor(opts.count / 10))
  let heapAfterWarmUp = 0

  async function worker (until: number): Promise<void> {
    while (next < until) {
      const c = makeCase(next++, ctx)
      sent.set(c.id, { kind: c.kind, allowed: c.allowed })
      const answer = await sendRaw(port, c.bytes, c.head)
      const key = answer.status === null ? 'no answer' : String(answer.status)
      statuses[key] = (statuses[key] ?? 0) + 1
      if (answer.timedOut) {
        timeouts++
        violations.push(`#${c.id} (${c.kind}): no answer within the time limit`)
      }
      if (answer.status !== null && answer.status >= 500 && ![502, 503, 504].includes(answer.status)) {
        violations.push(`#${c.id} (${c.kind}): answered ${answer.status}`)
      }
      const text = answer.headers + answer.body
      for (const secret of FORBIDDEN_IN_ANSWERS) {
        if (text.includes(secret)) violations.push(`#${c.id} (${c.kind}): the answer contains ${JSON.stringify(secret.slice(0, 12))}`)
      }
      if (c.expect !== null) {
        if (answer.status === c.expect) validPassed++
        else violations.push(`#${c.id} (${c.kind}): answered ${answer.status}, not ${c.expect}: ${answer.body.slice(0, 200)}`)
      }
      const session = /\r\nmcp-session-id: *([^\r\n]+)/i.exec(answer.headers)?.[1]
      if (session !== undefined && spy.issued.has(session)) violations.push(`#${c.id}: the client was handed Ragie's own session id`)
    }
  }

  async function phase (until: number): Promise<void> {
    await Promise.all(Array.from({ length: opts.concurrency ?? 32 }, () => worker(until)))
  }

  await phase(warmUp)
  collectGarbage()
  heapAfterWarmUp = process.memoryUsage().heapUsed
  log(`warm-up: ${warmUp} requests, heap ${(heapAfterWarmUp / 1048576).toFixed(1)} MiB`)
  for (let mark = warmUp; mark < opts.count;) {
    mark = Math.min(opts.count, mark + 5000)
    await phase(mark)
    log(`${mark} requests sent, ${spy.records.length} reached upstream, ${violations.length} violations`)
  }
  collectGarbage()
  const heapAtEnd = process.memoryUsage().heapUsed

  for (const record of spy.records) {
    const problem = checkUpstream(record, sent)
    if (problem !== null) violations.push(problem)
  }

  // Still up: liveness, and a valid call still goes through.
  const health = await sendRaw(port, Buffer.from('GET /healthz HTTP/1.1\r\nhost: gateway.test\r\nconnection: close\r\n\r\n'), false)
  const token = good.find(tk => tk.name === 'member')?.token as string
  const call = await sendRaw(port, Buffer.from(`POST /${ORG}/mcp/call HTTP/1.1\r\nhost: gateway.test\r\nconnection: close\r\nx-fuzz-id: final\r\nauthorization: Bearer ${token}\r\ncontent-length: 0\r\n\r\n`), false)
  return {
    seed: opts.seed,
    sent: next,
    statuses,
    upstreamRequests: spy.records.length,
    validPassed,
    timeouts,
    violations,
    heapAfterWarmUp,
    heapAtEnd,
    alive: health.status === 200 && call.status === 200,
    ms: Date.now() - started
  }
}
