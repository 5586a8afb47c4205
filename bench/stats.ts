import type { LoadResult } from './harness.ts'
import type { PacedResult } from './paced.ts'

/** The p-th percentile (nearest rank) of a list of numbers. */
export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]
}

/** A latency in ms to two decimals, as the reports print it. */
export function roundMs (ms: number): number {
  return Math.round(ms * 100) / 100
}

/** The middle value (the upper one of an even count). */
export function middle (values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
}

/** The item whose `key` is the middle one (the upper of the two middle ones for an even count). */
export function middleBy<T> (items: readonly T[], key: (item: T) => number): T {
  return [...items].sort((a, b) => key(a) - key(b))[Math.floor(items.length / 2)]
}

export type Side = 'bare' | 'hot'

/**
 * The order in which a round measures the two sides, `slices` times each: ABBA, ABBAAB…, so
 * that a machine growing faster or slower through the round weighs on both sides alike (with an
 * even count, a steady drift cancels out). Rounds take turns at which side opens.
 */
export function sliceOrder (round: number, slices: number): Side[] {
  const [a, b]: Side[] = round % 2 === 0 ? ['bare', 'hot'] : ['hot', 'bare']
  const order: Side[] = []
  for (let i = 0; i < slices; i++) order.push(...(i % 2 === 0 ? [a, b] : [b, a]))
  return order
}

/**
 * The steps of a round, each the sides measured at the same time: in turns, one side a step, in
 * `sliceOrder`'s order; together, both in every step, the one started first (a few µs ahead in
 * every tick of the runner's timers) alternating from step to step and opening as in turns.
 */
export function roundSteps (round: number, slices: number, together: boolean): Side[][] {
  if (!together) return sliceOrder(round, slices).map(side => [side])
  return Array.from({ length: slices }, (_, slice) => sliceOrder(round + slice, 1))
}

/**
 * One side's slices of a round, as one run: slices are of equal length, so its throughput is their
 * mean; its p50 and p99 are the means of the slices' own (autocannon gives percentiles, not the
 * samples); errors and non-2xx answers add up.
 */
export function mergeSlices (slices: readonly LoadResult[]): LoadResult {
  const mean = (pick: (r: LoadResult) => number): number => slices.reduce((sum, r) => sum + pick(r), 0) / slices.length
  return {
    rps: mean(r => r.rps),
    p50: mean(r => r.p50),
    p99: mean(r => r.p99),
    errors: slices.reduce((sum, r) => sum + r.errors, 0),
    non2xx: slices.reduce((sum, r) => sum + r.non2xx, 0)
  }
}

/**
 * One side's paced runs of a round (bench/paced.ts), as one run: its percentiles over all of their
 * samples together (exact, unlike the mean of each slice's own), its throughput over their
 * counted seconds together; errors and non-2xx answers add up.
 */
export function mergePaced (slices: readonly PacedResult[]): LoadResult {
  const latencies = slices.flatMap(r => r.latencies)
  const seconds = slices.reduce((sum, r) => sum + r.seconds, 0)
  return {
    rps: latencies.length / seconds,
    p50: roundMs(percentile(latencies, 50)),
    p99: roundMs(percentile(latencies, 99)),
    errors: slices.reduce((sum, r) => sum + r.errors, 0),
    non2xx: slices.reduce((sum, r) => sum + r.non2xx, 0)
  }
}

/** The machine's CPU time so far, all CPUs (/proc/stat's first line), in clock ticks. */
export interface CpuTimes {
  total: number
  /** Time the hypervisor ran something else while this machine's CPUs had work (steal). */
  steal: number
}

/** Reads the `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal guest… */
export function parseCpuTimes (procStat: string): CpuTimes {
  const fields = procStat.slice(0, procStat.indexOf('\n')).trim().split(/\s+/)
  if (fields[0] !== 'cpu') throw new Error('not a /proc/stat cpu line')
  const ticks = fields.slice(1, 9).map(Number)
  return { total: ticks.reduce((sum, t) => sum + t, 0), steal: ticks[7] ?? 0 }
}

/** The share (0 to 1) of the machine's CPU time between two readings that the host took. */
export function stolenShare (before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total
  return total > 0 ? (after.steal - before.steal) / total : 0
}

export interface Attempted<R> {
  result: R
  /** The share of CPU time the host took while the kept run ran. */
  steal: number
  /** How many runs were made. */
  attempts: number
}

/**
 * Measures until the host took at most `limit` of the CPU time during a run, at most `attempts`
 * times, and keeps the run with the least taken. On these virtual machines a few % of steal turn
 * a 10 ms p99 into 50 to 500 ms, whichever proxy is measured: such a run says nothing about the
 * proxy. (`measure` reads the steal around its own run, see `stolenShare`.)
 */
export async function leastStolen<R> (measure: () => Promise<{ result: R, steal: number }>, limit: number, attempts: number): Promise<Attempted<R>> {
  let best: { result: R, steal: number } | undefined
  let made = 0
  while (made < attempts) {
    const run = await measure()
    made++
    if (best === undefined || run.steal < best.steal) best = run
    if (run.steal <= limit) break
  }
  if (best === undefined) throw new Error('attempts must be at least 1')
  return { result: best.result, steal: best.steal, attempts: made }
}
