/** A small seeded generator (mulberry32): the same seed gives the same run, so a failure replays. */
export interface Prng {
  /** A float in [0, 1). */
  next: () => number
  /** An integer in [0, n). */
  int: (n: number) => number
  pick: <T>(items: readonly T[]) => T
  chance: (p: number) => boolean
}

/** Creates a generator from a 32-bit seed. */
export function createPrng (seed: number): Prng {
  let state = seed >>> 0
  function next (): number {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  return {
    next,
    int,
    pick: items => items[int(items.length)],
    chance: p => next() < p
  }
}
