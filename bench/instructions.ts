import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ORG, load, startServers, stopChildren } from './harness.ts'

/**
 * `npm run bench:instructions`: machine instructions a request costs in the bare proxy and in the
 * gateway's hot path, counted by valgrind's callgrind. Unlike seconds, the count hardly moves with
 * what else this shared machine is doing, so a change to the hot path shows even when it is
 * smaller than the noise of `npm run bench:hot`. Slow (each proxy runs under valgrind: ~3 minutes).
 */
// A warm-up long enough that the counted window is the steady state: after 4,000 requests the
// gateway was still compiling, promoting and running its first full collection, and one run counted
// 792k instructions a request where the steady state is ~430k. Each proxy still varies by a few
// percent with the collections that fall in the window.
const WARM = Number(process.env.BENCH_WARM_REQUESTS ?? 20_000)
const COUNTED = Number(process.env.BENCH_COUNTED_REQUESTS ?? 5000)
const out = mkdtempSync(join(tmpdir(), 'callgrind-'))
const servers = await startServers(['valgrind', '--tool=callgrind', '--instr-atstart=no', ...(process.env.BENCH_CACHE_SIM === '1' ? ['--cache-sim=yes'] : []), `--callgrind-out-file=${out}/%p.out`])

// valgrind names its control pipe after $HOST, which the gateway's configuration also uses.
function control (args: string[], pid: number): void {
  const env = { ...process.env, HOST: pid === servers.gatewayPid ? '127.0.0.1' : process.env.HOST }
  execFileSync('callgrind_control', [...args, String(pid)], { stdio: 'ignore', env })
}

function instructions (pid: number): number {
  control(['--dump'], pid)
  let total = 0
  for (const file of readdirSync(out).filter(f => f.startsWith(`${pid}.out`))) {
    total += Number(/^summary: (\d+)/m.exec(readFileSync(join(out, file), 'utf8'))?.[1] ?? 0)
  }
  return total
}

const figures: Record<string, number> = {}
for (const [name, pid, url, headers] of [
  ['bare', servers.barePid, `${servers.bareUrl}/${ORG}/mcp/`, {}],
  ['gateway', servers.gatewayPid, servers.tenantUrl, servers.auth]
] as const) {
  const opts = { connections: 10, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }
  await load(url, { ...opts, amount: WARM })
  control(['--instr=on'], pid)
  const before = instructions(pid)
  const r = await load(url, { ...opts, amount: COUNTED })
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`)
  figures[name] = (instructions(pid) - before) / COUNTED
  console.log(`${name}: ${Math.round(figures[name]).toLocaleString('en-US')} instructions a request`)
}
console.log(`gateway ÷ bare: ${(figures.gateway / figures.bare).toFixed(2)}`)
await stopChildren()
