import { DURATION, MAX_STEAL, ROUNDS, describeSteal, fixedRateRounds, hotRounds, startStandins, stopChildren } from './harness.ts'
import type { StealFigures } from './harness.ts'
import { middle } from './stats.ts'

/**
 * `npm run bench:hot`: only the bare proxy against the gateway's hot path, in alternating rounds,
 * for judging a change to the hot path quickly. Prints each round's throughput ratio and each
 * proxy's CPU per request; writes nothing. With BENCH_PROFILE=1 both proxies leave a CPU profile
 * in bench/profiles/ (then `node bench/profile-top.ts`); with BENCH_BARE_FORWARDER=gateway the
 * bare proxy forwards as the gateway does, for what the gateway's checks add like for like.
 */
function stealLine (steal: StealFigures): string {
  return `host steal over ${MAX_STEAL * 100}%: ${describeSteal(steal)}`
}

const standins = await startStandins()
console.log(`${ROUNDS} rounds of ${DURATION} s each, each with a new pair of proxies…`)
// BENCH_RATE: both at that steady rate instead, to compare latencies: one at a time, or with
// BENCH_PAIRED=1 both at once (each at that rate).
if (process.env.BENCH_RATE !== undefined) {
  const { bareRuns, hotRuns, p99Differences, steal } = await fixedRateRounds(standins, Number(process.env.BENCH_RATE), ROUNDS, process.env.BENCH_PAIRED === '1')
  for (let i = 0; i < ROUNDS; i++) {
    console.log(`round ${i + 1}: bare p50 ${bareRuns[i].p50} p99 ${bareRuns[i].p99} ms, gateway p50 ${hotRuns[i].p50} p99 ${hotRuns[i].p99} ms, p99 added ${p99Differences[i]} ms (${bareRuns[i].rps.toFixed(0)} and ${hotRuns[i].rps.toFixed(0)} req/s, ${bareRuns[i].errors + hotRuns[i].errors} errors, ${bareRuns[i].non2xx + hotRuns[i].non2xx} non-2xx)`)
  }
  console.log(`median p99 added ${middle(p99Differences)} ms; ${stealLine(steal)}`)
  await stopChildren()
  process.exit(0)
}
// BENCH_BARE_FORWARDER=gateway: the bare proxy forwards as the gateway does (harness.ts, BareForwarder).
// BENCH_ANSWER=event-stream: calls answered with an event stream of one message (harness.ts, Answer).
const { bareRuns, hotRuns, cpuPerRequest, steal } = await hotRounds(standins, ROUNDS, process.env.BENCH_BARE_FORWARDER === 'gateway' ? 'gateway' : 'reply-from', process.env.BENCH_ANSWER === 'event-stream' ? 'event-stream' : 'json')
for (let i = 0; i < ROUNDS; i++) {
  console.log(`round ${i + 1}: bare ${bareRuns[i].rps.toFixed(0)} req/s (p99 ${bareRuns[i].p99} ms), gateway ${hotRuns[i].rps.toFixed(0)} req/s (p99 ${hotRuns[i].p99} ms), ratio ${(hotRuns[i].rps / bareRuns[i].rps).toFixed(2)}`)
}
const ratios = hotRuns.map((h, i) => h.rps / bareRuns[i].rps)
console.log(`median ratio ${middle(ratios).toFixed(2)}; CPU a request: bare ${cpuPerRequest.bareUs.toFixed(0)} µs, gateway ${cpuPerRequest.hotUs.toFixed(0)} µs (${(cpuPerRequest.bareUs / cpuPerRequest.hotUs).toFixed(2)} ×); ${stealLine(steal)}`)
await stopChildren()
