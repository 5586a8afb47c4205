import type { LoadResult } from './harness.ts'

/** The p-th percentile (nearest rank) of a list of numbers. */
export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]
}

/** The middle value (the upper one of an even count). */
export function middle (values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
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
