import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { load, startServers, stopChildren, targetsOf } from './harness.ts'

/**
 * `npm run bench:instructions`: machine instructions a request costs in the bare proxy and in the
 * gateway's hot path, counted by valgrind's callgrind. Unlike seconds, the count hardly moves with
 * what else this shared machine is doing, so a change to the hot path shows even when it is
 * smaller than the noise of `npm run bench:hot`. Slow (each proxy runs under valgrind: ~3 minutes).
 *
 * Under valgrind V8's optimizing compilers (TurboFan, Maglev) are still at work in the counted
 * window, more in the gateway, which has more code to optimise (2026-12-05, one run: 74.8k
 * instructions a request against the bare proxy's 24.6k), where under a real load they had
 * finished within the warm-up: the count without them is printed too. So is the count without
 * them and the garbage collector, whose full collections land in one counted window and not the
 * next (2026-12-06: 69k and 1k a request in two runs of the same gateway): that one is the one to
 * compare changes by. With BENCH_CACHE_SIM=1, the level-1 cache misses a request as well (simulated;
 * slower still).
 */
// A warm-up long enough that the counted window is the steady state: after 4,000 requests the
// gateway was still compiling, promoting and running its first full collection, and one run counted
// 792k instructions a request where the steady state is ~430k. Each proxy still varies by a few
// percent with the collections that fall in the window.
const WARM = Number(process.env.BENCH_WARM_REQUESTS ?? 20_000)
const COUNTED = Number(process.env.BENCH_COUNTED_REQUESTS ?? 5000)
const out = mkdtempSync(join(tmpdir(), 'callgrind-'))
const servers = await startServers(['valgrind', '--tool=callgrind', '--instr-atstart=no', ...(process.env.BENCH_CACHE_SIM === '1' ? ['--cache-sim=yes'] : []), `--callgrind-out-file=${out}/%p.out`])

// V8's optimizing compilers, by the C++ namespace of a function's name (before its parameters).
const COMPILER = /v8::internal::(compiler|maglev)::/
// V8's garbage collector: its marking, sweeping and scavenging, by the names of their functions. A
// full collection (its concurrent marking) falls in some counted windows and not in others: one
// run of the gateway counted 69k instructions a request of it, the next 1k, with the same code.
const GC = /v8::internal::[\w:<>, ]*?(Marking|Marker|Sweep|Scaveng|Evacuat|Compactor|RememberedSet|Worklist|StringTableCleaner|IterateObjectCache)|Visitor>|heap::base::|cppgc::|HeapObject::SizeFromMap|NeedsResetDueToFlushedBytecode|__popcountdi2/

// valgrind names its control pipe after $HOST, which the gateway's configuration also uses.
function control (args: string[], pid: number): void {
  const env = { ...process.env, HOST: pid === servers.gatewayPid ? '127.0.0.1' : process.env.HOST }
  execFileSync('callgrind_control', [...args, String(pid)], { stdio: 'ignore', env })
}

interface Counts {
  /** Each event callgrind counted (Ir: instructions; I1mr, D1mr, D1mw: level-1 misses). */
  events: Record<string, number>
  /** The instructions of V8's optimizing compilers. */
  compiler: number
  /** The instructions of V8's garbage collector. */
  gc: number
}

/** What callgrind counted since its counters were zeroed: it dumps now, and reads that dump. */
function dump (pid: number): Counts {
  const before = new Set(readdirSync(out))
  control(['--dump'], pid)
  const file = readdirSync(out).find(f => f.startsWith(`${pid}.out`) && !before.has(f))
  if (file === undefined) throw new Error(`callgrind wrote no dump for ${pid}`)
  const text = readFileSync(join(out, file), 'utf8')
  const names = (/^events: (.+)$/m.exec(text)?.[1] ?? 'Ir').split(' ')
  const values = (/^summary: (.+)$/m.exec(text)?.[1] ?? '0').split(' ').map(Number)
  const events = Object.fromEntries(names.map((name, i) => [name, values[i] ?? 0]))
  let compiler = 0
  let gc = 0
  const annotated = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', '--show-percs=no', join(out, file)], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  for (const line of annotated.split('\n')) {
    const m = /^\s*([\d,]+)\s+([^(]*)/.exec(line)
    if (m === null) continue
    const count = Number(m[1].replaceAll(',', ''))
    if (COMPILER.test(m[2])) compiler += count
    else if (GC.test(m[2])) gc += count
  }
  return { events, compiler, gc }
}

const figures: Record<string, { all: number, without: number, neither: number }> = {}
const round = (n: number): string => Math.round(n).toLocaleString('en-US')
const misses = (c: Counts, name: string): string => round(c.events[name] / COUNTED)
const targets = targetsOf(servers)
for (const [name, { url, headers, pid }] of [['bare', targets.bare], ['gateway', targets.hot]] as const) {
  const opts = { connections: 10, headers }
  await load(url, { ...opts, amount: WARM })
  control(['--instr=on'], pid)
  control(['--zero'], pid)
  const r = await load(url, { ...opts, amount: COUNTED })
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`)
  const counted = dump(pid)
  const all = counted.events.Ir / COUNTED
  const compiler = counted.compiler / COUNTED
  const gc = counted.gc / COUNTED
  figures[name] = { all, without: all - compiler, neither: all - compiler - gc }
  console.log(`${name}: ${round(all)} instructions a request, ${round(compiler)} of them V8's optimizing compilers: ${round(all - compiler)} without them; ` +
    `${round(gc)} its garbage collector: ${round(all - compiler - gc)} without either` +
    (counted.events.I1mr === undefined ? '' : `; level-1 misses a request: ${misses(counted, 'I1mr')} instruction, ${misses(counted, 'D1mr')} data read, ${misses(counted, 'D1mw')} data write`))
}
console.log(`gateway ÷ bare: ${(figures.gateway.all / figures.bare.all).toFixed(2)}, without the optimizing compilers: ${(figures.gateway.without / figures.bare.without).toFixed(2)}, ` +
  `without either: ${(figures.gateway.neither / figures.bare.neither).toFixed(2)}`)
await stopChildren()
