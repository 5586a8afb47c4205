import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'

/**
 * `npm run bench:gc`: how much of what a server allocates survives V8's young-generation
 * collection, under the benchmark's load, for the layers of the stack one at a time (servers in
 * bench/gc-servers.ts, each in its own process with --trace-gc-nvp). What survives is copied,
 * promoted and collected again later: under load, that is where much of the proxies' CPU goes, and
 * the pauses are most of their p99. A kind may carry node flags after a colon.
 *
 * Seen on 2026-11-22, at ~7,000 req/s: node and Fastify alone keep 0.1% of what they allocate.
 * reply-from as the bare proxy uses it keeps about 31% (~7 KB a request), with scavenge pauses
 * of ~15 ms, and about 2% with `--no-allocation-site-pretenuring` (what server.ts sets: see
 * lib/v8-flags.ts for why). Streaming the request body is what lets V8 take the decision:
 * read whole first (`request-buffered`, which the SPEC does not allow the gateway), the proxy keeps
 * 1.3% even with pretenuring on. Reading the answer whole (`response-buffered`) or putting a
 * PassThrough in between (`request-passthrough`) changes nothing.
 */

const ROOT = join(import.meta.dirname, '..')
const KINDS = (process.env.GC_KINDS ?? 'node,fastify,request-buffered,response-buffered,request-passthrough,reply-from,reply-from:--no-allocation-site-pretenuring').split(',')

interface Started {
  child: ChildProcess
  port: number
  lines: string[]
}

function start (kindAndFlags: string, upstream = ''): Promise<Started> {
  const [kind, ...flags] = kindAndFlags.split(':')
  const child = spawn(process.execPath, ['--trace-gc-nvp', ...flags, 'bench/gc-servers.ts', kind], { cwd: ROOT, env: { ...process.env, UPSTREAM: upstream }, stdio: ['ignore', 'pipe', 'inherit'] })
  const lines: string[] = []
  return new Promise(resolve => {
    createInterface({ input: child.stdout! }).on('line', line => {
      if (line.startsWith('{')) resolve({ child, port: (JSON.parse(line) as { port: number }).port, lines })
      else lines.push(line)
    })
  })
}

function number (line: string, name: string): number {
  return Number(new RegExp(` ${name}=([\\d.]+)`).exec(line)?.[1] ?? 0)
}

const upstream = await start('node')
for (const kind of KINDS) {
  const server = await start(kind, `http://127.0.0.1:${upstream.port}`)
  const opts = { url: `http://127.0.0.1:${server.port}/x`, method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"ping"}', headers: { 'content-type': 'application/json' }, connections: 50 }
  await autocannon({ ...opts, duration: 3 })
  const from = server.lines.length
  const result = await autocannon({ ...opts, duration: 5 })
  const scavenges = server.lines.slice(from).filter(line => line.includes(' gc=s '))
  const requests = result.requests.average * 5
  const allocated = scavenges.reduce((sum, line) => sum + number(line, 'allocated'), 0)
  const survived = scavenges.reduce((sum, line) => sum + number(line, 'new_space_survived'), 0)
  const pauses = scavenges.reduce((sum, line) => sum + number(line, 'pause'), 0)
  console.log(`${kind.padEnd(Math.max(...KINDS.map(k => k.length)))} ${result.requests.average.toFixed(0).padStart(6)} req/s, ${(allocated / requests / 1024).toFixed(1).padStart(5)} KB allocated a request, ${(survived / requests / 1024).toFixed(2).padStart(5)} KB survived (${(100 * survived / Math.max(allocated, 1)).toFixed(1)}%), ${scavenges.length} scavenges of ${(pauses / Math.max(scavenges.length, 1)).toFixed(1)} ms`)
  server.child.kill()
}
upstream.child.kill()
