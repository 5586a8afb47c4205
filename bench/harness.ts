import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { generateKeyPairSync, sign } from 'node:crypto'
import { createWriteStream, readFileSync, mkdirSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { freePort } from '../test/fixtures/process.ts'
import { paced } from './paced.ts'
import type { PacedResult } from './paced.ts'
import { leastStolen, mergePaced, mergeSlices, middleBy, parseCpuTimes, roundMs, roundSteps, stolenShare } from './stats.ts'
import type { CpuTimes } from './stats.ts'
import type { Side } from './stats.ts'

/**
 * What `npm run bench` and `npm run bench:hot` share: the stand-ins, the bare proxy and the
 * gateway, each in its own process; tokens signed with the stand-in JWKS's key; the load.
 */

export const ROOT = join(import.meta.dirname, '..')
export const ORG = 'org_01BENCH00000000000000000000'
export const CLIENT_ID = 'client_bench'
export const DURATION = Number(process.env.BENCH_SECONDS ?? 6)
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
/** How many times each side is measured in a round of runs 2 and 3, in turns (see sliceOrder). */
export const SLICES = Number(process.env.BENCH_SLICES ?? 2)
export const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 5)
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
/** Seconds of the steady load each fixed-rate run sends first and does not count (paced.ts). */
export const PACED_WARMUP = Number(process.env.BENCH_PACED_WARMUP_SECONDS ?? 15)
/**
 * Seconds each fixed-rate run counts. Long enough that one stall of the machine does not decide the
 * p99: at 6,000 req/s, 1% of 6 s is 60 ms of requests, about one long scavenge pause or one
 * hiccup of a shared core; of 15 s, 150 ms.
 */
export const PACED_SECONDS = Number(process.env.BENCH_PACED_SECONDS ?? 15)
/** How many times each side is measured in a fixed-rate round, in turns (PACED_SECONDS in all). */
export const PACED_SLICES = Number(process.env.BENCH_PACED_SLICES ?? 3)
/** Seconds each fixed-rate slice sends first, not counted, while it opens its connections. */
export const PACED_SETTLE = 1
/**
 * A slice during which the host took more than this share of the machine's CPU time (steal, in
 * /proc/stat) is measured again, up to STEAL_ATTEMPTS times in all; the one with the least is kept.
 */
export const MAX_STEAL = Number(process.env.BENCH_MAX_STEAL_PERCENT ?? 1) / 100
export const STEAL_ATTEMPTS = 3
export const PROFILE = process.env.BENCH_PROFILE === '1'
/** What every measured request sends, and so what every warm-up request sends too. */
export const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
export const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'retrieve', arguments: { query: 'what is our soc2 scope?' } } })
export const PROFILE_DIR = join(ROOT, 'bench', 'profiles')
/** The node flags an environment variable lists, separated by spaces. */
function flagsFrom (name: string): string[] {
  return (process.env[name] ?? '').split(' ').filter(Boolean)
}
/**
 * BENCH_NODE_FLAGS: node flags for both proxies, e.g. `--allocation-site-pretenuring` to measure
 * both with V8's default that lib/v8-flags.ts turns off. Not one that writes to stdout: the bare
 * proxy's first line is its address.
 */
const NODE_FLAGS = flagsFrom('BENCH_NODE_FLAGS')
/**
 * BENCH_GATEWAY_NODE_FLAGS: node flags for the gateway alone, after BENCH_NODE_FLAGS. These may
 * write to stdout (`--trace-gc-nvp`): with BENCH_GATEWAY_LOG, it goes to that file with the log.
 */
const GATEWAY_NODE_FLAGS = flagsFrom('BENCH_GATEWAY_NODE_FLAGS')

const children: ChildProcess[] = []
process.on('exit', () => { for (const child of children) child.kill('SIGKILL') })

export function startChild (args: string[], env: Record<string, string>, quiet = false, wrap: string[] = []): { child: ChildProcess, firstLine: Promise<string> } {
  const [command, ...rest] = [...wrap, process.execPath, ...args]
  const child = spawn(command, rest, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', quiet ? 'ignore' : 'pipe', 'inherit'] })
  children.push(child)
  const firstLine = quiet
    ? Promise.resolve('')
    : new Promise<string>(resolve => createInterface({ input: child.stdout! }).once('line', resolve))
  return { child, firstLine }
}

function stop (child: ChildProcess): Promise<void> {
  return new Promise(resolve => {
    if (child.exitCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

/** Ends every child, waiting for each to exit (a CPU profile is written on the way out). */
export async function stopChildren (): Promise<void> {
  await Promise.all(children.map(stop))
}

function b64url (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const KID = 'bench_key'

/** An AuthKit-shaped access token for `sub`, signed with the key the stand-in JWKS serves. */
export function token (issuer: string, sub: string): string {
  const now = Math.floor(Date.now() / 1000)
  const data = `${b64url({ alg: 'RS256', typ: 'JWT', kid: KID })}.${b64url({ iss: issuer, sub, aud: CLIENT_ID, iat: now, exp: now + 3600 })}`
  return `${data}.${sign('sha256', Buffer.from(data), privateKey).toString('base64url')}`
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  // utime and stime, fields 14 and 15 of stat, in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** The whole machine's CPU time so far, steal included. */
export function cpuTimes (): CpuTimes {
  return parseCpuTimes(readFileSync('/proc/stat', 'utf8'))
}

export function rssMb (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

export interface LoadResult {
  rps: number
  p50: number
  p99: number
  errors: number
  non2xx: number
}

export async function load (url: string, opts: Partial<autocannon.Options> = {}): Promise<LoadResult> {
  const result = await autocannon({
    url,
    method: 'POST',
    body: BODY,
    headers: HEADERS,
    connections: CONNECTIONS,
    ...(opts.amount === undefined ? { duration: DURATION } : {}),
    ...opts
  })
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.timeouts, non2xx: result.non2xx }
}

/** The run with the median throughput. */
export function median (runs: LoadResult[]): LoadResult {
  return middleBy(runs, r => r.rps)
}

export async function waitReady (url: string, seconds = 10): Promise<void> {
  for (let i = 0; i < seconds * 20; i++) {
    try {
      if ((await fetch(url)).ok) return
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`${url} never became ready`)
}

export interface Standins {
  upstream: string
  control: string
}

export interface Proxies {
  bareUrl: string
  barePid: number
  gatewayUrl: string
  gatewayPid: number
  tenantUrl: string
  /** The Authorization header of the hot path's user. */
  auth: { authorization: string }
  /** Ends both proxies (a CPU profile is written as each exits). */
  stop: () => Promise<void>
}

export type Servers = Standins & Proxies

/** Starts the stand-ins: the upstream, the JWKS and the WorkOS API. */
export async function startStandins (): Promise<Standins> {
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' }
  const standins = startChild(['bench/standins.ts'], { BENCH_JWK: JSON.stringify(jwk) })
  return JSON.parse(await standins.firstLine) as Standins
}

/**
 * How the bare proxy's reply-from reaches the upstream: undici's own pool (the bare proxy as anyone
 * would write it, the baseline of the targets), or the gateway's forwarder (lib/upstream-request.ts),
 * to compare like for like what the gateway adds to a request.
 */
export type BareForwarder = 'reply-from' | 'gateway'

/**
 * Starts a bare proxy and a gateway (`server.ts` as production runs it) in front of the stand-ins,
 * and waits until both answer. With BENCH_PROFILE=1 both write a CPU profile when they exit.
 */
export async function startProxies (s: Standins, wrap: string[] = [], bareForwarder: BareForwarder = 'reply-from'): Promise<Proxies> {
  if (PROFILE) mkdirSync(PROFILE_DIR, { recursive: true })
  const profile = (name: string): string[] => PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${Date.now()}-${name}.cpuprofile`] : []
  const bare = startChild([...profile('bare'), ...NODE_FLAGS, 'bench/bare-proxy.ts'], { UPSTREAM: s.upstream, BARE_FORWARDER: bareForwarder }, false, wrap)
  const { url: bareUrl } = JSON.parse(await bare.firstLine) as { url: string }

  const port = await freePort()
  const gatewayUrl = `http://127.0.0.1:${port}`
  const gateway = startChild([...profile('gateway'), ...NODE_FLAGS, ...GATEWAY_NODE_FLAGS, 'server.ts'], {
    BASE_URL: gatewayUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    RAGIE_API_KEY: 'ragie_bench_key',
    RAGIE_MCP_SERVER_URL: s.upstream,
    WORKOS_API_KEY: 'sk_bench',
    WORKOS_API_URL: s.control,
    WORKOS_AUTHORIZATION_SERVER_URL: s.control,
    WORKOS_CLIENT_ID: CLIENT_ID,
    NODE_ENV: 'production',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    MAX_STREAMS_PER_USER: '100000',
    SHUTDOWN_GRACE_SECONDS: '1'
  }, process.env.BENCH_GATEWAY_LOG === undefined, wrap)
  if (process.env.BENCH_GATEWAY_LOG !== undefined) gateway.child.stdout?.pipe(createWriteStream(process.env.BENCH_GATEWAY_LOG, { flags: 'a' }))
  await waitReady(`${gatewayUrl}/readyz`, wrap.length > 0 ? 300 : 10)
  return {
    bareUrl,
    barePid: bare.child.pid as number,
    gatewayUrl,
    gatewayPid: gateway.child.pid as number,
    tenantUrl: `${gatewayUrl}/${ORG}/mcp/`,
    auth: { authorization: `Bearer ${token(s.control, 'user_bench_hot')}` },
    stop: async () => { await Promise.all([stop(bare.child), stop(gateway.child)]) }
  }
}

/** The stand-ins and a pair of proxies in front of them. */
export async function startServers (wrap: string[] = []): Promise<Servers> {
  const standins = await startStandins()
  return { ...standins, ...await startProxies(standins, wrap) }
}

export interface HotFigures extends PairedRuns {
  cpuPerRequest: { bareUs: number, hotUs: number }
}

/**
 * The bare proxy and the gateway's hot path, ROUNDS rounds, each with a pair of proxies started
 * for it and warmed up, the two measured in turns within the round (SLICES slices of
 * DURATION ÷ SLICES seconds each, in ABBA order): a slow spell of this shared machine then hits
 * both. A new pair each round because a process keeps what it drew at its start (how V8
 * compiled its hot functions, where its memory lies): here the same gateway build measured
 * 0.76 to 0.91 of the bare proxy from one start to the next, with the rounds of one start close
 * together. Each server's own CPU per request too: on 2 shared cores the throughput ratio also
 * depends on how the scheduler splits them between the runner, the upstream and the proxy.
 */
export async function hotRounds (s: Standins, rounds = ROUNDS, bareForwarder: BareForwarder = 'reply-from', answer: Answer = 'json'): Promise<HotFigures> {
  const cpu = { bare: { seconds: 0, requests: 0 }, hot: { seconds: 0, requests: 0 } }
  const seconds = DURATION / SLICES
  const { bareRuns, hotRuns, steal } = await pairedRounds(s, {
    rounds,
    bareForwarder,
    rest: answer === 'event-stream' ? 'call-stream' : '',
    slices: SLICES,
    measure: async (side, { url, headers, pid }) => {
      const before = cpuSeconds(pid)
      const run = await load(url, { headers, duration: seconds })
      cpu[side].seconds += cpuSeconds(pid) - before
      cpu[side].requests += run.rps * seconds
      return run
    },
    merge: mergeSlices
  })
  const us = (side: Side): number => cpu[side].seconds / cpu[side].requests * 1e6
  return { bareRuns, hotRuns, steal, cpuPerRequest: { bareUs: us('bare'), hotUs: us('hot') } }
}

/** One side of a round: where it is, what to send it, its process. */
export interface Target {
  url: string
  headers: Record<string, string>
  pid: number
}

/**
 * Each side of a pair of proxies, with the very requests both get (the hot path's token included),
 * to `/<org>/mcp/<rest>` (`call-stream`: calls the stand-in answers with an event stream).
 */
export function targetsOf (p: Proxies, rest = ''): Record<Side, Target> {
  const headers = { ...HEADERS, ...p.auth }
  return {
    bare: { url: `${p.bareUrl}/${ORG}/mcp/${rest}`, headers, pid: p.barePid },
    hot: { url: `${p.tenantUrl}${rest}`, headers, pid: p.gatewayPid }
  }
}

/** How the stand-in answers the hot path's calls: JSON of declared length, or an event stream of one message. */
export type Answer = 'json' | 'event-stream'

/** What the host took (steal) from the slices of a set of rounds. */
export interface StealFigures {
  slices: number
  /** Extra runs made because a slice's steal was over MAX_STEAL. */
  remeasured: number
  /** Slices kept with steal over MAX_STEAL all the same (every attempt was over). */
  over: number
  /** The largest steal share of a kept slice. */
  max: number
}

/** Slices measured under the steal rule, and what the host took from the ones kept. */
export interface StealLedger {
  /** Runs `run`, again while the host took more than MAX_STEAL, and keeps the least stolen run. */
  measure: <R>(run: () => Promise<R>) => Promise<R>
  figures: () => StealFigures
}

export function stealLedger (): StealLedger {
  const kept: number[] = []
  let remeasured = 0
  return {
    async measure (run) {
      const slice = await leastStolen(async () => {
        const before = cpuTimes()
        const result = await run()
        return { result, steal: stolenShare(before, cpuTimes()) }
      }, MAX_STEAL, STEAL_ATTEMPTS)
      remeasured += slice.attempts - 1
      kept.push(slice.steal)
      return slice.result
    },
    figures: () => ({ slices: kept.length, remeasured, over: kept.filter(x => x > MAX_STEAL).length, max: Math.max(...kept) })
  }
}

/** One line on what the host took from a set of rounds, for the console and the report alike. */
export function describeSteal ({ slices, remeasured, over, max }: StealFigures): string {
  const kept = over === 0 ? 'every slice kept was under it' : `${over} kept over it all the same (every run of it was)`
  return `${remeasured.toLocaleString('en-US')} runs made again for ${slices} slices; ${kept}; the most taken from a kept slice, ${(max * 100).toFixed(1)}%`
}

interface PairedRuns {
  bareRuns: LoadResult[]
  hotRuns: LoadResult[]
  steal: StealFigures
}

interface RoundPlan<R extends LoadResult> {
  rounds: number
  /** The bare proxy's forwarder: undici's own pool unless said. */
  bareForwarder?: BareForwarder
  /** What follows `/<org>/mcp/` in the measured requests (see targetsOf). */
  rest?: string
  slices: number
  /**
   * Both sides loaded at the same time (in `prepare` and in every slice), rather than in turns:
   * the same stalls of the machine then fall on both. Which side's load starts first (and so
   * sends a few µs ahead in every tick of the runner's timers) alternates from slice to slice.
   */
  together?: boolean
  /** Run once for each side, after the warm-up, before any slice: not counted. */
  prepare?: (side: Side, target: Target) => Promise<void>
  /** One slice of one side. */
  measure: (side: Side, target: Target) => Promise<R>
  /** One side's slices of a round, as one run. */
  merge: (slices: R[]) => LoadResult
}

/**
 * `rounds` rounds, each with a new pair of proxies, warmed up (and `prepare`d), then `measure` of
 * the bare proxy and of the gateway's hot path, in turns or together, `slices` times each (see
 * `roundSteps`), each side's slices merged into one run.
 */
async function pairedRounds<R extends LoadResult> (s: Standins, plan: RoundPlan<R>): Promise<PairedRuns> {
  const bareRuns: LoadResult[] = []
  const hotRuns: LoadResult[] = []
  const steal = stealLedger()
  const together = plan.together === true

  for (let round = 0; round < plan.rounds; round++) {
    const p = await startProxies(s, [], plan.bareForwarder)
    await warmUp(s, p, plan.rest)
    const target = targetsOf(p, plan.rest)
    const prepare = plan.prepare
    if (prepare !== undefined) {
      for (const sides of roundSteps(round, 1, together)) await Promise.all(sides.map(side => prepare(side, target[side])))
    }
    const runs: Record<Side, R[]> = { bare: [], hot: [] }
    // Whatever the first run of a round pays (a cold load generator, the other proxy's warm-up
    // just before) falls on each side alike, and so does a drift of the machine's speed.
    // A slice the host took the CPUs away from is measured again (see leastStolen).
    for (const sides of roundSteps(round, plan.slices, together)) {
      const results = await steal.measure(async () => await Promise.all(sides.map(side => plan.measure(side, target[side]))))
      sides.forEach((side, i) => runs[side].push(results[i]))
    }
    bareRuns.push(plan.merge(runs.bare))
    hotRuns.push(plan.merge(runs.hot))
    await p.stop()
  }
  return { bareRuns, hotRuns, steal: steal.figures() }
}

export interface FixedRateFigures extends PairedRuns {
  /** Each round's gateway p99 minus the bare proxy's, in ms. */
  p99Differences: number[]
}

/**
 * The bare proxy and the gateway's hot path at the same steady rate (see paced.ts), `rounds`
 * rounds, each with a new pair of proxies, warmed up, then given PACED_WARMUP seconds of the
 * steady load each (counted for nothing: a change of load generator restarts a few seconds of
 * slow garbage collection in both proxies), then measured like the throughput rounds:
 * PACED_SLICES slices a side of PACED_SECONDS ÷ PACED_SLICES seconds, the slices' samples merged
 * into one p99 for each side. Each slice opens its connections again, in a second of its own that
 * is not counted.
 *
 * In turns (ABBA), or with `together` both at once: two paced loads from this process, one to
 * each, started together, so that every stall of the machine (the kernel's monitor, the runner,
 * the upstream, the host) falls on both at the same moments. In turns, each side's p99 is decided
 * by the stalls of its own slices, and those differ: there, a bare proxy measured against itself
 * with 27 µs of CPU added to each request came out between -5.5 and +46.7 ms (2026-12-06, five
 * rounds). Together, each side's p99 is taken over the same seconds.
 */
export async function fixedRateRounds (s: Standins, rate: number, rounds: number, together = false): Promise<FixedRateFigures> {
  const steady = (target: Target, seconds: number, warmupSeconds: number): Promise<PacedResult> =>
    paced({ url: target.url, headers: target.headers, rate, seconds, warmupSeconds, body: BODY, connections: CONNECTIONS })
  const { bareRuns, hotRuns, steal } = await pairedRounds(s, {
    rounds,
    slices: PACED_SLICES,
    together,
    prepare: async (_side, target) => { await steady(target, PACED_WARMUP, 0) },
    measure: async (_side, target) => await steady(target, PACED_SECONDS / PACED_SLICES, PACED_SETTLE),
    merge: mergePaced
  })
  return { bareRuns, hotRuns, steal, p99Differences: hotRuns.map((hot, i) => roundMs(hot.p99 - bareRuns[i].p99)) }
}

/**
 * WARMUP seconds of load on each proxy, so both are compiled and pooled before anything counts:
 * the gateway has more code for V8 to optimise, and its first seconds are its slowest. In two
 * halves, each proxy's first load over (its connections closed) before its second: the first
 * close of many connections deoptimised a wave of the gateway's stream and undici code (wrong
 * maps, field types no longer constant), which V8 then optimised again over the next seconds
 * (seen with `--trace-deopt --trace-opt`, 2026-12-06; the bare proxy, not traceable here, runs
 * the same stream code). With one warm-up, that fell in the gateway's first measured slice,
 * which then ran at a third of its speed for its first second.
 */
export async function warmUp (s: Standins, p: Proxies, rest = ''): Promise<void> {
  await load(`${s.upstream}/mcp/bench/`, { duration: 1 })
  const { bare, hot } = targetsOf(p, rest)
  for (let pass = 0; pass < 2; pass++) {
    for (const target of [bare, hot]) await load(target.url, { duration: WARMUP / 2, headers: target.headers })
  }
}
