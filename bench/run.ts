import { writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import type autocannon from 'autocannon'
import { renderChart } from './chart.ts'
import { cpuModel, runningMonitors } from './host.ts'
import type { AccessMonitor } from './host.ts'
import { middle, middleBy, percentile } from './stats.ts'
import { CONNECTIONS, DURATION, MAX_STEAL, ORG, PACED_SECONDS, PACED_SETTLE, PACED_SLICES, PACED_WARMUP, ROOT, ROUNDS, SLICES, STEAL_ATTEMPTS, WARMUP, BODY, describeSteal, fixedRateRounds, hotRounds, load, median, rssMb, startProxies, startStandins, stealLedger, stopChildren, targetsOf, token, warmUp } from './harness.ts'
import type { HotFigures, LoadResult, StealFigures } from './harness.ts'

/**
 * `npm run bench`: the same load, from this process, against the upstream alone, a bare Fastify +
 * reply-from proxy, and the gateway (hot and cold), each server in its own process; then event
 * stream latency and idle streams. Prints the table and writes docs/benchmarks.md and its chart.
 */

const COLD_REQUESTS = Number(process.env.BENCH_COLD_REQUESTS ?? 6000)
const IDLE_STREAMS = Number(process.env.BENCH_IDLE_STREAMS ?? 5000)
const SSE_EVENTS = Number(process.env.BENCH_SSE_EVENTS ?? 2000)
const SSE_WINDOWS = Number(process.env.BENCH_SSE_WINDOWS ?? 5)
const IDLE_HOT_SECONDS = 5
const FIXED_ROUNDS = 7

/** The run with the median p99. */
function byP99 (runs: LoadResult[]): LoadResult {
  return middleBy(runs, r => r.p99)
}

/** Reads an event stream, calling `onEvent` with each event's data and the time it arrived. */
function readEvents (url: string, headers: Record<string, string>, agent: Agent, onEvent: (data: string, at: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers }, agent }, res => {
      if (res.statusCode !== 200) { reject(new Error(`stream answered ${res.statusCode}`)); res.resume(); return }
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', chunk => {
        const at = performance.timeOrigin + performance.now()
        buffer += chunk
        let end
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const event = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = /^data: (.*)$/m.exec(event)?.[1]
          if (data !== undefined) onEvent(data, at)
        }
      })
      res.on('end', resolve)
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** One window of events, read directly, through the bare proxy and through the gateway at once. */
interface SseWindow {
  directP50: number
  directP99: number
  gatewayP50: number
  gatewayP99: number
  /** Added by the gateway: each event's arrival through it minus its arrival direct. */
  addedP50: number
  addedP99: number
  /** The same through the bare proxy: what one more process on the way adds on this machine. */
  bareAddedP50: number
  bareAddedP99: number
  events: number
}

interface SseFigures extends SseWindow {
  /** The gateway's and the bare proxy's added p99 in each window, in order. */
  addedP99s: number[]
  bareAddedP99s: number[]
  steal: StealFigures
}

/**
 * Three streams get the same events at the same moment: one read directly from the upstream, one
 * through the bare proxy, one through the gateway. Each event's added latency is its arrival
 * through a proxy minus its arrival direct: paired, so the upstream's and this process's own
 * jitter cancel out.
 */
async function sseWindow (urls: { direct: string, bare: string, gateway: string }, headers: Record<string, string>, controlUrl: string): Promise<SseWindow> {
  const agent = new Agent({ keepAlive: false })
  const direct = new Map<number, number>()
  const bare = new Map<number, number>()
  const through = new Map<number, number>()
  const stamps = new Map<number, number>()
  const record = (into: Map<number, number>) => (data: string, at: number) => {
    const [seq, sent] = data.split(' ').map(Number)
    into.set(seq, at)
    stamps.set(seq, sent)
  }
  const streams = [
    readEvents(urls.direct, {}, agent, record(direct)),
    readEvents(urls.bare, headers, agent, record(bare)),
    readEvents(urls.gateway, headers, agent, record(through))
  ]
  streams.forEach(p => p.catch(() => {}))
  await new Promise(resolve => setTimeout(resolve, 500))
  const { tickers } = await (await fetch(`${controlUrl}/tick?n=${SSE_EVENTS}&interval=2`)).json() as { tickers: number }
  if (tickers !== 3) throw new Error(`expected 3 ticker streams, the upstream has ${tickers}`)
  const all = [direct, bare, through]
  const deadline = Date.now() + SSE_EVENTS * 2 + 10_000
  while (all.some(m => m.size < SSE_EVENTS) && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  agent.destroy()
  // The first events include the connections' warm-up: left out.
  const seqs = [...through.keys()].filter(seq => direct.has(seq) && bare.has(seq) && seq > SSE_EVENTS / 20)
  const delay = (arrivals: Map<number, number>) => seqs.map(seq => (arrivals.get(seq) as number) - (stamps.get(seq) as number))
  const added = (arrivals: Map<number, number>) => seqs.map(seq => (arrivals.get(seq) as number) - (direct.get(seq) as number))
  return {
    directP50: percentile(delay(direct), 50),
    directP99: percentile(delay(direct), 99),
    gatewayP50: percentile(delay(through), 50),
    gatewayP99: percentile(delay(through), 99),
    addedP50: percentile(added(through), 50),
    addedP99: percentile(added(through), 99),
    bareAddedP50: percentile(added(bare), 50),
    bareAddedP99: percentile(added(bare), 99),
    events: through.size
  }
}

/**
 * SSE_WINDOWS windows, each measured again while the host took more than MAX_STEAL (as the
 * slices of runs 2 and 3 are); the window with the median gateway p99 added stands for the run. A
 * p99 of one window is decided by a few stalls of the machine, as a single round's is.
 */
async function sseLatency (urls: { direct: string, bare: string, gateway: string }, headers: Record<string, string>, controlUrl: string): Promise<SseFigures> {
  const windows: SseWindow[] = []
  const steal = stealLedger()
  for (let i = 0; i < SSE_WINDOWS; i++) windows.push(await steal.measure(async () => await sseWindow(urls, headers, controlUrl)))
  return {
    ...middleBy(windows, w => w.addedP99),
    addedP99s: windows.map(w => w.addedP99),
    bareAddedP99s: windows.map(w => w.bareAddedP99),
    steal: steal.figures()
  }
}

interface IdleFigures {
  asked: number
  opened: number
  /** Streams that never opened, by cause (a status code or a socket error's code). */
  failed: Record<string, number>
  received: number
  rssGrowthMb: number
  kbPerStream: number
  /** The hot path's load, run on the same gateway before the streams opened and while they were held. */
  hotWithout: LoadResult
  hotWith: LoadResult
}

async function holdIdleStreams (url: string, tokens: string[], controlUrl: string, gatewayPid: number, hotLoad: () => Promise<LoadResult>): Promise<IdleFigures> {
  // First a load that counts for nothing: an idle gateway meets new load with a spell of slow
  // collections (see "garbage" in the report).
  await hotLoad()
  const hotWithout = await hotLoad()
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
  const before = rssMb(gatewayPid)
  let opened = 0
  let settled = 0
  let received = 0
  const failed: Record<string, number> = {}
  const requests: Array<ReturnType<typeof request>> = []
  // Every stream is counted, opened or failed, so a drop says how many and why instead of ending
  // the run at the first one.
  const allSettled = new Promise<void>(resolve => {
    const settle = (cause?: string) => {
      if (cause !== undefined) failed[cause] = (failed[cause] ?? 0) + 1
      if (++settled === tokens.length) resolve()
    }
    let i = 0
    const openBatch = () => {
      for (let k = 0; k < 250 && i < tokens.length; k++, i++) {
        let done = false
        const once = (cause?: string) => { if (!done) { done = true; settle(cause) } }
        const req = request(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${tokens[i]}` }, agent }, res => {
          if (res.statusCode !== 200) { res.resume(); once(`HTTP ${res.statusCode}`); return }
          res.setEncoding('utf8')
          let counted = false
          res.on('data', chunk => {
            if (!counted && chunk.includes('data: ping')) { counted = true; received++ }
          })
          opened++
          once()
        })
        req.on('error', (err: NodeJS.ErrnoException) => once(err.code ?? err.message))
        req.end()
        requests.push(req)
      }
      if (i < tokens.length) setTimeout(openBatch, 20)
    }
    openBatch()
  })
  await allSettled
  await new Promise(resolve => setTimeout(resolve, 2000))
  const after = rssMb(gatewayPid)
  // Calls while thousands of streams are open: each stream holds a connection to the upstream.
  const hotWith = await hotLoad()
  await fetch(`${controlUrl}/broadcast`)
  // Delivery takes a moment for thousands of sockets: wait up to 10 s for the last one.
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (received === opened) break
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  for (const req of requests) req.destroy()
  agent.destroy()
  return { asked: tokens.length, opened, failed, received, rssGrowthMb: after - before, kbPerStream: (after - before) * 1024 / Math.max(opened, 1), hotWithout, hotWith }
}

/** "none", or each cause of a stream that did not open with its count. */
function describeFailed (failed: Record<string, number>): string {
  const causes = Object.entries(failed)
  return causes.length === 0 ? 'none' : causes.map(([cause, n]) => `${n} × ${cause}`).join(', ')
}

async function main (): Promise<void> {
  const standins = await startStandins()
  const { upstream, control } = standins

  console.log('signing tokens for the cold and idle-stream runs…')
  const coldTokens = Array.from({ length: COLD_REQUESTS }, (_, i) => token(control, `user_bench_cold_${i}`))
  const idleTokens = Array.from({ length: IDLE_STREAMS }, (_, i) => token(control, `user_bench_idle_${i}`))
  const burstTokens = Array.from({ length: 50 }, (_, i) => token(control, `user_bench_burst_${i}`))

  console.log(`1/5 upstream alone; 2/5 bare proxy and 3/5 gateway hot path, ${ROUNDS} rounds, each with a new pair of proxies…`)
  await load(`${upstream}/mcp/bench/`, { duration: 2 })
  const direct = await load(`${upstream}/mcp/bench/`)
  const { bareRuns, hotRuns, cpuPerRequest, steal: hotSteal } = await hotRounds(standins)
  const bareRun = median(bareRuns)
  const hotRun = median(hotRuns)
  // Each round's pair ran back to back, under the same conditions: the ratio reported is the
  // median of the pairs' ratios.
  const roundRatios = hotRuns.map((hot, i) => hot.rps / bareRuns[i].rps)
  // The same, against a bare proxy that forwards as the gateway does (lib/upstream-request.ts):
  // what the gateway's checks and logging add, like for like. For comparison, not a target.
  console.log(`2′/5 the same against a bare proxy with the gateway's forwarder, ${ROUNDS} rounds…`)
  const likeFigures = await hotRounds(standins, ROUNDS, 'gateway')
  const like = comparison(likeFigures)
  // And calls answered with an event stream of one message, as the official MCP SDK's server
  // answers them by default: the stream path (lib/streams.ts). For comparison, not a target.
  console.log(`2″/5 the same with calls answered by an event stream, ${ROUNDS} rounds…`)
  const streamAnswers = comparison(await hotRounds(standins, ROUNDS, 'reply-from', 'event-stream'))
  // A rate both can hold: half of what the slower of the two managed, so that neither runs near
  // its limit (where queueing, not the proxy, decides the latency).
  const rate = Math.floor(Math.min(bareRun.rps, hotRun.rps) * 0.5 / 100) * 100
  // At a steady rate too (bench/paced.ts), in rounds: a p99 is the slowest 1% of a few seconds,
  // and one stall of this machine decides it.
  console.log(`the same at a steady ${rate} req/s, ${FIXED_ROUNDS} rounds…`)
  const { bareRuns: bareFixedRuns, hotRuns: hotFixedRuns, p99Differences, steal: fixedSteal } = await fixedRateRounds(standins, rate, FIXED_ROUNDS)
  const bareFixed = byP99(bareFixedRuns)
  const hotFixed = byP99(hotFixedRuns)
  // And both at once, each at half that rate (the machine then carries the load it carried for
  // one at a time), so that the same stalls fall on both (see fixedRateRounds).
  const pairedRate = Math.floor(rate / 2 / 100) * 100
  console.log(`both at once, each at a steady ${pairedRate} req/s, ${FIXED_ROUNDS} rounds…`)
  const { bareRuns: barePairedRuns, hotRuns: hotPairedRuns, p99Differences: pairedDifferences, steal: pairedSteal } = await fixedRateRounds(standins, pairedRate, FIXED_ROUNDS, true)

  // One more pair for the rest: cold users, event streams.
  const servers = { ...standins, ...await startProxies(standins) }
  const { tenantUrl, auth } = servers
  await warmUp(standins, servers)
  await fetch(`${control}/workos-calls`)

  console.log('4/5 gateway, a new user on every request…')
  let next = 0
  const coldRun = await load(tenantUrl, {
    amount: coldTokens.length,
    requests: [{
      setupRequest: (req: autocannon.Request) => {
        req.headers = { ...req.headers, authorization: `Bearer ${coldTokens[next++ % coldTokens.length]}` }
        return req
      }
    }]
  })
  const coldCalls = await (await fetch(`${control}/workos-calls`)).json() as Calls
  // Single flight: 50 new users, 40 concurrent requests each, at once.
  const burstStatuses = new Map<string, number>()
  const burstAgent = new Agent({ keepAlive: true, maxSockets: 200 })
  await Promise.all(burstTokens.flatMap(tok => Array.from({ length: 40 }, () => new Promise<void>(resolve => {
    const req = request(tenantUrl, { method: 'POST', agent: burstAgent, headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' } }, res => {
      res.resume()
      res.on('end', () => { burstStatuses.set(String(res.statusCode), (burstStatuses.get(String(res.statusCode)) ?? 0) + 1); resolve() })
    })
    req.on('error', err => { burstStatuses.set(err.message, (burstStatuses.get(err.message) ?? 0) + 1); resolve() })
    req.end(BODY)
  }))))
  burstAgent.destroy()
  console.log('single-flight burst answers:', Object.fromEntries(burstStatuses))
  const burstCalls = await (await fetch(`${control}/workos-calls`)).json() as Calls

  console.log('5/5 event streams…')
  const sse = await sseLatency({ direct: `${upstream}/mcp/bench/ticker`, bare: `${servers.bareUrl}/${ORG}/mcp/ticker`, gateway: `${servers.gatewayUrl}/${ORG}/mcp/ticker` }, auth, control)
  const { hot } = targetsOf(servers)
  const idle = await holdIdleStreams(`${servers.gatewayUrl}/${ORG}/mcp/idle`, idleTokens, control, servers.gatewayPid,
    async () => await load(hot.url, { headers: hot.headers, duration: IDLE_HOT_SECONDS }))

  const figures: Figures = {
    date: new Date().toISOString().slice(0, 10),
    node: process.version,
    cpus: (await import('node:os')).cpus().length,
    cpu: cpuModel(),
    monitors: runningMonitors(),
    duration: DURATION,
    connections: CONNECTIONS,
    direct,
    bare: bareRun,
    hot: hotRun,
    cold: coldRun,
    fixedRate: rate,
    bareFixed,
    hotFixed,
    coldCalls,
    burstCalls,
    sse,
    idle,
    ratio: middle(roundRatios),
    roundRatios,
    like,
    streamAnswers,
    cpuPerRequest,
    hotSteal,
    fixedSteal,
    p99Added: middle(p99Differences),
    p99Differences,
    pairedRate,
    barePaired: byP99(barePairedRuns),
    hotPaired: byP99(hotPairedRuns),
    pairedSteal,
    pairedAdded: middle(pairedDifferences),
    pairedDifferences
  }
  report(figures)

  await stopChildren()
}

interface Calls {
  pairs: number
  calls: number
  maxPerPair: number
}

/** Hot-path rounds run for comparison: against a bare proxy with the gateway's forwarder, or with event-stream answers. */
interface LikeFigures {
  bare: LoadResult
  hot: LoadResult
  roundRatios: number[]
  cpuPerRequest: { bareUs: number, hotUs: number }
  steal: StealFigures
}

interface Figures {
  date: string
  node: string
  cpus: number
  cpu: string
  monitors: AccessMonitor[]
  duration: number
  connections: number
  direct: LoadResult
  bare: LoadResult
  hot: LoadResult
  cold: LoadResult
  fixedRate: number
  bareFixed: LoadResult
  hotFixed: LoadResult
  coldCalls: Calls
  burstCalls: Calls
  sse: SseFigures
  idle: IdleFigures
  ratio: number
  roundRatios: number[]
  like: LikeFigures
  streamAnswers: LikeFigures
  p99Differences: number[]
  cpuPerRequest: { bareUs: number, hotUs: number }
  hotSteal: StealFigures
  fixedSteal: StealFigures
  p99Added: number
  pairedRate: number
  barePaired: LoadResult
  hotPaired: LoadResult
  pairedSteal: StealFigures
  pairedAdded: number
  pairedDifferences: number[]
}

function comparison (f: HotFigures): LikeFigures {
  return {
    bare: median(f.bareRuns),
    hot: median(f.hotRuns),
    roundRatios: f.hotRuns.map((hot, i) => hot.rps / f.bareRuns[i].rps),
    cpuPerRequest: f.cpuPerRequest,
    steal: f.steal
  }
}

/** A comparison's line of the targets table. */
function comparisonLine (what: string, c: LikeFigures): string[] {
  const ratio = middle(c.roundRatios)
  return [what, `${ratio.toFixed(3)} × (median of ${c.roundRatios.length} rounds: ${c.roundRatios.map(r => r.toFixed(2)).join(', ')}); per CPU ${(c.cpuPerRequest.bareUs / c.cpuPerRequest.hotUs).toFixed(3)} × (${c.cpuPerRequest.bareUs.toFixed(0)} µs → ${c.cpuPerRequest.hotUs.toFixed(0)} µs)`, '—']
}

function row (name: string, r: LoadResult): string {
  return `| ${name} | ${Math.round(r.rps).toLocaleString('en-US')} | ${r.p50} | ${r.p99} | ${r.errors + r.non2xx} |`
}

function signed (ms: number): string {
  return `${ms >= 0 ? '+' : ''}${ms.toFixed(2)}`
}

function verdict (ok: boolean): string {
  return ok ? 'met' : '**not met**'
}

/** The kernel's data access monitors, for the report's first line. */
function describeMonitors (monitors: AccessMonitor[]): string {
  if (monitors.length === 0) return 'no kernel data access monitor running'
  const each = monitors.map(m => `every ${m.sampleMs} ms, action \`${m.action}\``).join('; ')
  return `[kernel data access monitor](#kdamond) running: ${each}`
}

/**
 * What the kernel's data access monitor (DAMON) did to the fixed-rate p99s, as a probe of
 * 2026-12-03 found on a machine running one; where none runs, that the stalls were not it.
 */
function kernelStalls (monitors: AccessMonitor[]): string {
  const anchor = '<a id="kdamond"></a>'
  if (monitors.length === 0) {
    return `${anchor}No kernel data access monitor (DAMON) ran on this machine. On machines of the same kind
that run one, it was the largest source of those stalls (\`bench/host.ts\` looks for it).`
  }
  return `${anchor}On this machine most of those stalls are the kernel's. It runs a data access monitor (DAMON,
the thread \`kdamond\`: sampling every ${monitors[0].sampleMs} ms, action \`${monitors[0].action}\`, the virtual machine's
proactive reclaim). In a probe under the fixed-rate load (2026-12-03, each thread's run time read
from \`/proc\` every 5 ms), kdamond took a core for 4 to 15 ms about every 0.54 s, and the slow
requests of either proxy came in bursts with the same period: some 5% of all requests, so every
p99 at a fixed rate falls inside them. With the monitor stopped for the probe (and started again
after it; never for a published run), single 10 s runs at 5,000 req/s gave a p99 of 5.4 and
6.2 ms for the bare proxy (11.6 ms with it running) and 4.8, 7.3 and 7.7 ms for the gateway, one
run of 22 ms aside (14.5 and 16.5 ms with it running). Both proxies meet the same stalls; the p99
added measures how fast each works off about 10 ms of backlog, and that follows its CPU per request.`
}

function report (f: Figures): void {
  const cpuRatio = f.cpuPerRequest.bareUs / f.cpuPerRequest.hotUs
  const likeRatio = middle(f.like.roundRatios)
  const likeCpu = f.like.cpuPerRequest
  const targets = [
    ['hot path throughput ≥ 0.85 × bare proxy', `${f.ratio.toFixed(3)} × (median of ${f.roundRatios.length} rounds: ${f.roundRatios.map(r => r.toFixed(2)).join(', ')})`, verdict(f.ratio >= 0.85)],
    ['the same, per CPU second of the proxy process', `${cpuRatio.toFixed(3)} × (${f.cpuPerRequest.bareUs.toFixed(0)} µs → ${f.cpuPerRequest.hotUs.toFixed(0)} µs of CPU a request)`, verdict(cpuRatio >= 0.85)],
    comparisonLine('for comparison, not a target: against a bare proxy given the gateway\'s forwarder ([what that is](#forwarder))', f.like),
    comparisonLine('for comparison, not a target: calls answered with an event stream, as the MCP SDK\'s server answers them by default ([why](#stream-answers))', f.streamAnswers),
    [`hot path p99 within 1 ms of bare proxy, both at once at ${f.pairedRate.toLocaleString('en-US')} req/s each ([why](#fixed-rate))`, `${signed(f.pairedAdded)} ms (median of ${f.pairedDifferences.length} rounds: ${f.pairedDifferences.map(signed).join(', ')} ms); one at a time at ${f.fixedRate.toLocaleString('en-US')} req/s: ${signed(f.p99Added)} ms (median of ${f.p99Differences.length} rounds: ${f.p99Differences.map(signed).join(', ')} ms)`, verdict(f.pairedAdded <= 1)],
    ['SSE added latency per event p99 ≤ 2 ms', `${signed(f.sse.addedP99)} ms (median of ${f.sse.addedP99s.length} windows: ${f.sse.addedP99s.map(signed).join(', ')} ms; the bare proxy's median over the same windows: ${signed(middle(f.sse.bareAddedP99s))} ms)`, verdict(f.sse.addedP99 <= 2)],
    [`${f.idle.asked.toLocaleString('en-US')} idle SSE streams, RSS growth ≤ 300 MB, none dropped`, `+${f.idle.rssGrowthMb.toFixed(0)} MB (${f.idle.kbPerStream.toFixed(1)} KB/stream), ${f.idle.opened}/${f.idle.asked} opened, ${f.idle.received}/${f.idle.asked} delivered`, verdict(f.idle.rssGrowthMb <= 300 && f.idle.received === f.idle.asked)],
    ['cold membership: WorkOS calls ≤ 1 per (user, org)', `${f.coldCalls.maxPerPair} (cold run), ${f.burstCalls.maxPerPair} (40 concurrent per new user)`, verdict(f.coldCalls.maxPerPair <= 1 && f.burstCalls.maxPerPair <= 1)]
  ]
  const table = [
    '| run | req/s | p50 ms | p99 ms | errors |',
    '|---|---:|---:|---:|---:|',
    row('1. upstream alone', f.direct),
    row('2. bare Fastify + reply-from', f.bare),
    row('3. gateway, hot path', f.hot),
    row('2′. bare proxy with the gateway\'s forwarder', f.like.bare),
    row('3′. gateway, hot path (rounds against 2′)', f.like.hot),
    row('2″. bare proxy, calls answered with an event stream', f.streamAnswers.bare),
    row('3″. gateway, calls answered with an event stream', f.streamAnswers.hot),
    row('4. gateway, new user every request', f.cold),
    row(`2. bare proxy at ${f.fixedRate.toLocaleString('en-US')} req/s`, f.bareFixed),
    row(`3. gateway at ${f.fixedRate.toLocaleString('en-US')} req/s`, f.hotFixed),
    row(`2. bare proxy at ${f.pairedRate.toLocaleString('en-US')} req/s, both at once`, f.barePaired),
    row(`3. gateway at ${f.pairedRate.toLocaleString('en-US')} req/s, both at once`, f.hotPaired)
  ].join('\n')
  const targetTable = ['| target | measured | |', '|---|---|---|', ...targets.map(t => `| ${t.join(' | ')} |`)].join('\n')
  console.log(`\n${table}\n\n${targetTable}\n`)

  const md = `# Benchmarks

Generated by \`npm run bench\` on ${f.date} (Node ${f.node}, ${f.cpus} cores, ${f.cpu}, load generator
on the same machine; ${describeMonitors(f.monitors)}).
Every figure below comes from one run; the chart is generated from the same numbers.
Each server runs in its own process: the stand-ins (upstream, JWKS, WorkOS), the bare proxy and the
gateway (\`server.ts\`, \`NODE_ENV=production\`, \`LOG_LEVEL=info\`, logs to /dev/null), both with
V8's allocation-site pretenuring and its Maglev compiler off and one \`nextTick\` entry kept
alive (\`server.ts\` does all three, and the bare proxy the same: see [garbage](#garbage) and
[ticks](#ticks)); autocannon
runs in the runner process, ${f.connections} connections, ${f.duration} s a run, POST of a JSON-RPC
\`tools/call\` answered by a ~1 KB result, with the same headers to both proxies (the hot path's
bearer token included: the bare proxy passes it on upstream). Runs 2 and 3, 2′ and 3′, and 2″ and 3″, take ${ROUNDS} rounds each; each round starts a
new bare proxy and a new gateway, warms both up for ${WARMUP} s with the same requests (in two
halves, connections closed in between: see [warm-up](#warm-up)), then
measures each ${SLICES} times for ${f.duration / SLICES} s, in turns (ABBA: a machine growing faster or slower
through the round weighs on both alike), rounds taking turns at which side opens; a side's slices
make its run (their mean throughput, and the means of their p50s and p99s).
Each row shows its median round, and the throughput ratio is the median of the rounds' ratios.
The fixed-rate runs offer half of the slower proxy's median throughput as a steady open-loop load
(\`bench/paced.ts\`: request n is due at n ÷ rate seconds, and its latency counts from then, so a
late send counts too; requests are prebuilt bytes on raw keep-alive sockets, so the runner's own
cost stays small), in ${FIXED_ROUNDS} rounds of their own, again with a new pair each. After the
warm-up each proxy gets ${PACED_WARMUP} s of the steady load that counts for nothing (a change of
load generator starts a few seconds of slow garbage collection: see [garbage](#garbage)); then
each is measured ${PACED_SLICES} times for ${PACED_SECONDS / PACED_SLICES} s, in turns (ABBA), each
slice opening its connections in a first ${PACED_SETTLE} s that is not counted; a side's p50 and
p99 are taken over all the answers of its slices (${PACED_SECONDS} s, so that one stall of the
machine does not decide a p99). Each row shows the round with the median p99, and the p99 added is
the median of the rounds' differences. The target is judged on ${FIXED_ROUNDS} more rounds with
both proxies at once ([why](#fixed-rate)): two such loads from the runner, started together (which
one first alternating from slice to slice: it sends a few µs ahead in every tick), one to
each proxy, each at half that rate (the machine then carries the load it carried for one proxy at
a time), with the same warm-up, ${PACED_WARMUP} s not counted and ${PACED_SLICES} slices of ${PACED_SECONDS / PACED_SLICES} s, each
measuring both.
autocannon's own
\`overallRate\` is not used for them: it sends each connection's share of a second in a burst at
the start of the second, so its p99 measured the queue of that burst, not the proxy.

![requests per second](benchmarks.svg)

${table}

Run 4 sends ${f.cold.rps > 0 ? COLD_REQUESTS.toLocaleString('en-US') : 0} requests, each with a token of a user never seen before:
a signature check and a WorkOS look-up on every request.

## Targets

${targetTable}

## Event streams

| | p50 ms | p99 ms |
|---|---:|---:|
| upstream event → client, direct | ${f.sse.directP50.toFixed(2)} | ${f.sse.directP99.toFixed(2)} |
| upstream event → client, through the gateway | ${f.sse.gatewayP50.toFixed(2)} | ${f.sse.gatewayP99.toFixed(2)} |
| added by the gateway, event by event | ${f.sse.addedP50.toFixed(2)} | ${f.sse.addedP99.toFixed(2)} |
| added by the bare proxy, event by event | ${f.sse.bareAddedP50.toFixed(2)} | ${f.sse.bareAddedP99.toFixed(2)} |

${SSE_WINDOWS} windows of ${SSE_EVENTS.toLocaleString('en-US')} events, one every 2 ms, each stamped with its send time,
written at the same moment to a stream read directly, one read through the bare proxy and one read
through the gateway; the added latency pairs the arrivals of each event, so the upstream's jitter
and the runner's own cancel out. The table shows the window with the median gateway p99 added. A
window the host took more than ${MAX_STEAL * 100}% from is measured again, as the slices of runs 2
and 3 are: ${describeSteal(f.sse.steal)}. Even with no steal, a process on these virtual machines
now and then wakes some ms late (a timer of 1 ms in an idle process was seen up to 10 ms late), so
every process an event passes through adds a little to its p99: the bare proxy's row is that floor.
Idle streams: ${f.idle.asked.toLocaleString('en-US')} streams asked for through the gateway, one per
user, 250 every 20 ms: ${f.idle.opened.toLocaleString('en-US')} opened (failed: ${describeFailed(f.idle.failed)}).
They were held for 2 s, then one event was broadcast upstream to all of them:
${f.idle.received.toLocaleString('en-US')} arrived. The gateway's RSS grew by
${f.idle.rssGrowthMb.toFixed(0)} MB (${f.idle.kbPerStream.toFixed(1)} KB per stream, both sockets
and the membership cache entry included).
While they were held, the hot path's load (${IDLE_HOT_SECONDS} s, ${CONNECTIONS} connections, the one cached user)
got ${Math.round(f.idle.hotWith.rps).toLocaleString('en-US')} req/s (p99 ${f.idle.hotWith.p99} ms), against ${Math.round(f.idle.hotWithout.rps).toLocaleString('en-US')} req/s
(p99 ${f.idle.hotWithout.p99} ms) from the same gateway just before they opened: ${(f.idle.hotWith.rps / f.idle.hotWithout.rps).toFixed(2)} ×. Each open
stream holds a connection to the upstream; calls go over a pool of their own ("Many open event
streams" in [operations](operations.md)).

## How the gateway forwards

<a id="forwarder"></a>reply-from calls one function of the undici object it is given:
\`request(options, callback)\`. The gateway answers it with a handler of its own
(\`lib/upstream-request.ts\`) in place of undici's: no async resource, abort signal or body with
fetch's methods per request, and an answer that is not an event stream and declares at most
64 KiB (a JSON-RPC result, a 202) comes as one Buffer, which Fastify sends with one write, where a
stream costs a pipe, its listeners and more writes. Larger answers, answers of unknown length and
event streams stream as before, with back-pressure. The bare proxy of run 2 is Fastify and
reply-from as anyone would write them, over undici's own pool: the baseline the targets are judged
against. Rows 2′ and 3′ come from ${f.like.roundRatios.length} rounds of their own against a bare
proxy given the same forwarder (\`BARE_FORWARDER=gateway\` in \`bench/bare-proxy.ts\`,
\`BENCH_BARE_FORWARDER=gateway npm run bench:hot\`): that ratio, ${likeRatio.toFixed(2)} × here, is
what the gateway's checks, request line and header rewriting add to a request, like for like, and
the figure to watch when changing the hot path. Measured with \`npm run bench:hot\` when the
forwarder went in (2026-12-07, Intel Xeon, 3 rounds each): the gateway with undici's handler ran at
0.77 × the bare proxy (81 µs of CPU a request against 61), with the gateway's handler streaming
every answer 0.80 ×, and reading small answers whole 0.93 × (66 µs against 62); the bare proxy given
the same forwarder went from about 60 µs a request to 50, and the gateway ran at 0.77 × that one.
Which answers take the whole path depends on the MCP server behind the gateway: this benchmark's
stand-in answers a call with JSON of declared length (as the issue asks), but the official MCP
SDK's server answers calls with an event stream unless it is set to answer with JSON
(\`enableJsonResponse\`), and event streams always stream: for them the gain is the handler's alone
(0.77 to 0.80 × above).

<a id="stream-answers"></a>Rows 2″ and 3″ measure that case: ${f.streamAnswers.roundRatios.length} rounds of their own in
which the stand-in answers every call with an event stream of one message (\`event: message\`, the
same ~1 KB result), as the SDK's server does, and both proxies relay it:
${middle(f.streamAnswers.roundRatios).toFixed(2)} × here. The gateway tracks each such stream, as it does the
long-lived ones (keep-alive pings between events, the idle end, the clean end on shutdown or
revocation), where the bare proxy only pipes it. Measured with \`BENCH_ANSWER=event-stream npm run
bench:hot\` (2026-12-07, Intel Xeon, 3 rounds each): 0.57 × the bare proxy (117 µs of CPU a
request against 60 to 62) when the registry relayed each stream through a Transform of its own with
two timers refreshed on every chunk; 0.77 × with no tracking at all (an experiment, not kept: the
gateway's promises to such streams need it); 0.65 × with the answer body itself tracked (no
stream in between); 0.67 × with the headers sent with the first event rather than on their own
(a write of their own was some 25 µs of write system calls a request in the profile); and 0.70 ×
(102 µs) with one timer a stream that a chunk does not touch.

## Where the gateway's time goes

Per request, the gateway process used ${f.cpuPerRequest.hotUs.toFixed(0)} µs of CPU in this run and
the bare proxy ${f.cpuPerRequest.bareUs.toFixed(0)} µs (all threads: V8's garbage collector runs beside
the main thread); in the rounds against the bare proxy with the gateway's forwarder,
${likeCpu.hotUs.toFixed(0)} µs against ${likeCpu.bareUs.toFixed(0)} µs. Profiles of both under the same load (\`BENCH_PROFILE=1 npm run bench:hot\`, then
\`node bench/profile-top.ts\`) put the difference in many small places. The largest is the one log
line per request that the SPEC asks for (the bare proxy logs nothing), and the garbage it leaves;
\`BENCH_LOG_LEVEL=warn npm run bench:hot\` runs without it, for comparison. Then, at a µs or less
each: the child logger Fastify makes for every request, the JSON-RPC summary of the audit fields,
header filtering both ways, the path parse, and the tenant checks themselves.

<a id="garbage"></a>Garbage counts more than it seems here. Under this load both proxies allocate
some 30 KB a request (the gateway about 6 KB more). With V8's defaults, about a third of it lived
long enough to be copied by the young-generation collector: pauses of 12 to 20 ms every ~120 ms,
in both proxies, and as much again on helper threads. The sampling heap profiler (objects that
outlive a scavenge but not a full collection) and \`--trace-pretenuring\` found why: V8 decides,
within the first seconds of load, to allocate the listener table that every Node stream makes
straight in the old generation; those tables die with their request, but until the next full
collection they keep everything their listeners reach alive through every scavenge. With
\`--no-allocation-site-pretenuring\`, which \`server.ts\` now sets for itself
(\`lib/v8-flags.ts\`), 1% survives and the pauses are 1 to 3 ms (\`npm run bench:gc\`: the bare
proxy alone went from about 6,100 to 8,500 req/s). The bare proxy here runs with the same setting,
so the comparison stays like for like.

Then the spells: in their first seconds under load, and again after the load changed (a pause,
a new load generator), both proxies went through spells of scavenges in which some 40% survived,
~15 MB each time, with pauses of 15 to 60 ms; the gateway had them at every change of load and
promoted 10 to 13% of all it allocated (the bare proxy about 2%). A heap snapshot taken in a spell
frees all of it (new space from 17 MB to nothing), so what keeps it alive through a scavenge is
held by references a scavenge treats as strong and a full collection does not; a full collection
in a spell does not end it; a snapshot's (several in a row, reducing memory) did. Traced with
\`bench/gc-trace.ts\` (2026-12-06): a spell lasts as long as the hot path runs as code of the
interpreter or of Maglev, V8's mid-tier compiler, and ends when TurboFan's code replaces it. With
Maglev alone (\`--no-turbofan\`) it never ends (25% promoted); with \`--no-maglev\` the spells end
within the warm-up: 1.6% promoted, pauses down to a third. Both proxies now run without Maglev
(\`lib/v8-flags.ts\`). Which reference it is, inside V8, is not known; type feedback, which
interpreted and Maglev code keep recording and TurboFan's does not, is the likeliest. A steady
load runs at 1%. The warm-ups are there so that the measured
runs see the steady state: a spell that falls in a measured run decides its p99, which is why
single rounds of either proxy still jump by tens of ms.

<a id="ticks"></a>And a slow state some processes fell into for good, found with
\`npm run bench:instructions\` (2026-12-06): the same bare proxy counted 285,000 instructions a
request in one process and 382,000 in the next, and in the slow ones V8's runtime function for
defining a computed key of an object literal ran 60 times a request, three for each
\`process.nextTick\` (whose queue entry is such a literal). V8 remembers, for each such key, the
hidden class the object had the first time, and holds it weakly: a full collection at a moment when
no entry is queued lets it die, and V8 then gives up on the site for good. A script shows it alone:
two full collections between bursts of \`nextTick\` made every later \`nextTick\` about twice as
slow. Five of ten bare proxies counted were in that state; with one entry kept alive
(\`lib/tick-shape.ts\`, which both proxies now call) none of eight. Rounds of either proxy that ran
~25% slower than their neighbours, in earlier runs of this benchmark, were likely this.

<a id="warm-up"></a>And one that fell in the measured runs: the first close of many connections
(the end of the warm-up's load) deoptimised a wave of the gateway's stream and undici code (V8's
\`--trace-deopt\`: objects of maps not seen before, fields no longer of one type), which V8 then
optimised again as the next load began: with one warm-up, the gateway's first measured slice ran
at a third of its speed for its first second, and some 140 functions were compiled again in it
(2026-12-06; only the gateway was traced: the bare proxy's stdout carries its address, but it
runs the same stream code and gets the same warm-up). The warm-up now comes in two halves with the connections closed in between, and
the measured slices see next to no compiling; \`npm run bench:hot\` on the same machine, before
and after: 0.82 and 0.85 × (medians of 7 rounds, one run each: within the noise of a run, so
the reason to keep it is the trace, not the ratio).

Where the rest goes, bisected on 2026-12-05 (two or three rounds each; not kept in the code): a
route added to the gateway for the purpose, proxying as the bare proxy does, with every plugin,
the logger and the request line but no tenant checks and no header rewriting, ran at 0.97 and
0.99 × the bare proxy; in the same process the tenant route ran at 0.84 × that route. So what
costs is the tenant path, not the app around it, and no part of it alone: skipping the checks,
the body tap or the proxy callbacks one at a time left it within the noise of a round (0.78
to 0.87 × the bare proxy), all three together made it 0.90 and 0.95 ×. Under
valgrind its instructions a request come to about the bare proxy's once the optimising compilers
are left out (see [reading the numbers](#steal)), so what the tenant path adds under load is
mostly not instructions: simulated, its level-1 misses a request were some 16% more for
instructions and 36% more for data, and V8's helper threads (the collector's) took 12 to 13 µs a
request against the bare proxy's 3 to 5. Neither a smaller young generation
(\`--max-semi-space-size\` 4 or 8) nor a single-threaded collector helped.
On 2026-12-06, on an Intel machine where the gateway ran at 0.72 to 0.87 × the bare proxy (rounds of two runs)
(0.84 to 0.93 on an AMD machine earlier the same day, same code), each thread's CPU time
(\`/proc/<pid>/task\`) put the difference on the main thread: 72 µs a request for the bare proxy,
93 to 100 µs for the gateway, V8's helper threads 1 to 4.5 µs in both. \`strace\` counted the same
system calls a request in both (two \`writev\`, two \`read\`; the gateway's request upstream is the
shorter, Ragie's key in place of the user's token). A bare proxy given the gateway's upstream
pools (undici 8, calls and streams apart, their timeouts) in place of reply-from's own undici 7
ran at 0.93 × itself in one A/B of 4 rounds; taken apart, undici 8 against 7 gave 0.98 ×, and the
two pools, their timeouts and the body timeout alone, each against one plain undici 8 pool, 1.02,
1.04 and 1.00 ×. Runs of the same A/B move by a few percent, so the pools cost a few percent at
most, and most of the difference is elsewhere.

On the same day, on an AMD EPYC machine (~200 µs of CPU a request for the bare proxy), an
experiment not kept in the code: the gateway's proxy plugin forwarding with undici's \`dispatch\`
and a handler that writes Ragie's answer straight to the response (no reply-from, no undici
\`request\` stream, no Fastify stream send), with every check, the body tap and the request line
kept, ran at 1.05 × the bare proxy in two \`npm run bench:hot\` runs of 3 rounds (CPU a request
167 and 169 µs against the bare proxy's 170 and 176), where the gateway as it is ran at 0.72 and
0.83 × in the same hour. Keeping reply-from and only writing the answer without Fastify's stream
send gave 0.80 and 0.90 × (against 0.73 and 0.84 ×). So what the gateway adds to a request is
about what reply-from's layer and undici's \`request\` stream cost over a plain dispatch. The
experiment left out what a real forwarder needs (aborting Ragie's request when the client leaves,
the call body timeout, back-pressure, event-stream tracking, Ragie's 401, error answers), most of
which costs per event, not per request. On 2026-12-07 what of it keeps reply-from went into the
code, with all of those: see [how the gateway forwards](#forwarder).

<a id="fixed-rate"></a>At a fixed rate, one proxy at a time, the gateway's p99 is a few ms above the bare proxy's in most rounds, and this
is not its garbage collector: over 24 s of steady load its scavenges came 3.6 a second with
pauses of at most 3.9 ms (the bare proxy: 3.0 a second, at most 4.4 ms), and its event loop never
stalled for more than 10 ms. It is queueing: a stall of a few ms anywhere on the two cores (the
runner, the upstream, a scavenge) fills the connections, and the gateway works the backlog off at
its own ceiling, about 10% below the bare proxy's, so its slowest requests wait longer. What
closes the gap is less CPU per request on the hot path.

But one at a time, each side's p99 is decided by the stalls that fall in its own slices, and they
differ from slice to slice far more than the two proxies do. A probe of 2026-12-06 measured the
bare proxy that way against a copy of itself that spins a fixed time on every request (5,000 req/s,
5 rounds, on a machine where a request cost the bare proxy ~115 µs of CPU): with 10 µs more a
request, the copy's p99 came out +0.44, -4.15, +0.64, -0.19 and -0.06 ms from the original's; with
27 µs more (about what the gateway costs there on top), +5.30, +0.19, +46.67, -0.01 and -5.50 ms.
So the target is judged with both proxies loaded at once: the same stalls then fall on both in
the same seconds, and each side's p99 is taken over the same time. Each gets half the
one-at-a-time rate, so that the machine carries the same load; each proxy then runs further from
its own ceiling than one at a time, which also makes a stall's backlog shorter for both (the
gateway's CPU per request, above, is what it is either way). The one-at-a-time figure stays in
the table for comparison with earlier runs.

${kernelStalls(f.monitors)}

What the profiles showed, and is fixed: eight \`onRequest\` hooks (now one, calling the eight steps
in order), and it was \`async\` (now a callback hook: a cached token and a cached membership are
answered at once, so the hot path makes no promise at all); two pass-through streams on every
request body (now none for a body with a \`Content-Length\`: a listener copies the first bytes for
the audit line); a property added to every proxied request as it went (now a field every request
has from the start, so requests keep one shape); six reply-from callbacks made per request (now one
options object); metrics hooks running with no metrics listener (now not registered); fast-jwt
decoding and hashing every token (now a cache keyed by the \`Authorization\` header, looked up by
its last characters: hashing an 800-character key cost 1 µs); the audience check on every request
(now kept with the cached token for the tenant last asked); \`JSON.parse\` of every body's first
bytes for the audit fields (now one pass over the bytes that keeps three strings); pino's
general-purpose serialisation of the request line (now written as one string, the same bytes);
log lines written one system call each, then gathered in a growing string that was copied on every
line (now encoded once into a 16 KiB buffer); reply-from's pool capped at 128 connections, which
queued the 129th open event stream.

## Reading the numbers

<a id="steal"></a>These machines are virtual, and their host runs others beside them: time in
which one of our CPUs had work but the host ran something else shows in \`/proc/stat\` as steal.
Watched slice by slice at a fixed rate, a slice with 0 to 0.5% steal had a p99 of 5 to 15 ms; one
with 5 to 35% had 40 to 650 ms, whichever proxy it measured. So every slice of runs 2 and 3 reads
the steal around itself, and a slice with more than ${(MAX_STEAL * 100).toFixed(0)}% is measured again, up to ${STEAL_ATTEMPTS} runs
in all, keeping the one with the least (\`BENCH_MAX_STEAL_PERCENT\` changes the limit). In this
run: throughput rounds, ${describeSteal(f.hotSteal)}; throughput rounds against the bare proxy with the gateway's forwarder, ${describeSteal(f.like.steal)}; throughput rounds with event-stream answers, ${describeSteal(f.streamAnswers.steal)}; fixed-rate rounds, ${describeSteal(f.fixedSteal)}; fixed-rate rounds with both at once, ${describeSteal(f.pairedSteal)}.

These machines are shared and noisy: compare the rows of one run with each other, not with
another day's. The hot-path ratio of one pair of processes stays within a few percent from round
to round, but moved from 0.76 to 0.91 between pairs started one after another (what V8 compiled,
where memory lies, what else ran): hence a new pair for every round, and medians of rounds.
Within a round the two sides are measured in turns, ABBA, and the side that opens alternates from
round to round: the one measured second has been idle meanwhile, and an idle proxy sometimes meets
its next load with one of the spells above.
\`npm run bench:hot\` repeats only that comparison;
\`npm run bench:instructions\` counts the instructions a request costs under valgrind; compare
several runs. The collections that fall in the counted window move a count by a few percent
(2026-12-03: the bare proxy 376.4k to 386.8k, the gateway 426.4k to 437.5k, 1.10 to 1.15 ×), and
now and then a run is far out (2026-12-05: the gateway at 858k, 2.28 ×, its window full of
scavenges and a full collection). On 2026-12-04, on a machine about 2.5 times slower per request,
four runs gave 1.61 to 1.87 ×: the machine, not the code (on a new machine the same day, the
2026-12-03 code and that report's code both gave 1.15 ×). Under valgrind, V8's optimising
compilers are still at work in the counted window, where under a real load \`--trace-opt\` shows
them done within the warm-up (its two halves: see [warm-up](#warm-up)), and the gateway has more to compile: on 2026-12-05, 74.8k of its
432.3k instructions a request against 24.6k of the bare proxy's 378.1k. The script prints the
count without them too (357.6k, 355.4k, 357.8k and 356.0k against 353.5k, 354.3k, 353.9k and
354.6k in four runs: 1.00 to 1.01 ×, within 0.7%), the one to judge a change by.
And the bare proxy's count carries some 80k instructions a request (a fifth of it) that are V8's
state, not its work: in every run of 2026-12-05 (eight), Node's own \`process.nextTick\`
(node:internal/process/task_queues:113, found with \`--perf-basic-prof\`) defined the two
symbol-keyed fields of each tick object through V8's runtime
(\`Runtime_DefineKeyedOwnPropertyInLiteral\`, migrating the object off a deprecated map), 60 ticks a
request, where an inline cache normally does it in a few instructions. The gateway did the same in
one run of the eight (the one at 858k). Under load the CPU profiles agree, every start alike: in five pairs
(\`BENCH_PROFILE=1\`), \`nextTick\` took 3.6 to 4.9% of the bare proxy's busy samples and 0.7 to
1.0% of the gateway's. So at 1.00 × without the compilers, the
gateway does about a fifth more work a request than the bare proxy. Why the bare proxy lands in
that state (and the gateway once, under valgrind) is not known. \`BENCH_SECONDS\`, \`BENCH_ROUNDS\`, \`BENCH_SLICES\`, \`BENCH_WARMUP_SECONDS\`, \`BENCH_PACED_SECONDS\`, \`BENCH_PACED_SLICES\`,
\`BENCH_CONNECTIONS\`, \`BENCH_COLD_REQUESTS\`, \`BENCH_IDLE_STREAMS\` and \`BENCH_SSE_EVENTS\`
change the load; \`BENCH_PROFILE=1\` writes CPU profiles of both proxies to \`bench/profiles/\` (not
committed).
`
  writeFileSync(join(ROOT, 'docs', 'benchmarks.md'), md)
  writeFileSync(join(ROOT, 'docs', 'benchmarks.svg'), renderChart([
    { label: 'upstream alone', value: f.direct.rps },
    { label: 'bare proxy', value: f.bare.rps },
    { label: 'bare, gw forwarder', value: f.like.bare.rps },
    { label: 'gateway, hot', value: f.hot.rps },
    { label: 'gateway, cold', value: f.cold.rps },
    { label: 'bare, SSE answers', value: f.streamAnswers.bare.rps },
    { label: 'gateway, SSE answers', value: f.streamAnswers.hot.rps }
  ], 'requests per second'))
  console.log('wrote docs/benchmarks.md and docs/benchmarks.svg')
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
