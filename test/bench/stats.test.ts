import { test } from 'tap'
import { mergeSlices, middle, percentile, sliceOrder } from '../../bench/stats.ts'

test('sliceOrder measures each side as often, in ABBA order, rounds taking turns at opening', async t => {
  t.same(sliceOrder(0, 1), ['bare', 'hot'])
  t.same(sliceOrder(1, 1), ['hot', 'bare'])
  t.same(sliceOrder(0, 2), ['bare', 'hot', 'hot', 'bare'])
  t.same(sliceOrder(1, 2), ['hot', 'bare', 'bare', 'hot'])
  t.same(sliceOrder(2, 3), ['bare', 'hot', 'hot', 'bare', 'bare', 'hot'])
  // With an even count, a machine slowing down steadily through the round costs both sides alike:
  // the mean position of each side's slices is the same.
  for (const round of [0, 1]) {
    const order = sliceOrder(round, 4)
    const meanAt = (side: string): number => order.reduce((sum, s, i) => s === side ? sum + i : sum, 0) / 4
    t.equal(meanAt('bare'), meanAt('hot'), `round ${round}: ${order.join(' ')}`)
  }
})

test('mergeSlices makes one run of a side\'s slices', async t => {
  const merged = mergeSlices([
    { rps: 1000, p50: 2, p99: 10, errors: 1, non2xx: 0 },
    { rps: 3000, p50: 4, p99: 30, errors: 0, non2xx: 2 }
  ])
  t.same(merged, { rps: 2000, p50: 3, p99: 20, errors: 1, non2xx: 2 })
  t.same(mergeSlices([{ rps: 5, p50: 1, p99: 2, errors: 0, non2xx: 0 }]), { rps: 5, p50: 1, p99: 2, errors: 0, non2xx: 0 }, 'one slice is itself')
})

test('percentile and middle', async t => {
  t.equal(percentile([5, 1, 4, 2, 3], 50), 3)
  t.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10)
  t.ok(Number.isNaN(percentile([], 50)))
  t.equal(middle([3, 1, 2]), 2)
  t.equal(middle([4, 1, 3, 2]), 3, 'the upper one of an even count')
})
