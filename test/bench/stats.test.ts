import { test } from 'tap'
import { leastStolen, mergePaced, mergeSlices, middle, middleBy, parseCpuTimes, percentile, roundSteps, sliceOrder, stolenShare } from '../../bench/stats.ts'

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

test('roundSteps: one side a step in turns, both in every step together, the first alternating', async t => {
  t.same(roundSteps(0, 2, false), [['bare'], ['hot'], ['hot'], ['bare']])
  t.same(roundSteps(1, 1, false), [['hot'], ['bare']])
  t.same(roundSteps(0, 3, true), [['bare', 'hot'], ['hot', 'bare'], ['bare', 'hot']])
  t.same(roundSteps(1, 2, true), [['hot', 'bare'], ['bare', 'hot']])
  t.same(roundSteps(0, 1, true), [['bare', 'hot']], 'a prepare step: both at once')
  for (const together of [false, true]) {
    const steps = roundSteps(2, 4, together)
    t.equal(steps.flat().filter(side => side === 'bare').length, 4, `bare measured 4 times (together: ${together})`)
    t.equal(steps.flat().filter(side => side === 'hot').length, 4, `hot measured 4 times (together: ${together})`)
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
  const runs = [{ name: 'a', p99: 9 }, { name: 'b', p99: 2 }, { name: 'c', p99: 5 }, { name: 'd', p99: 7 }]
  t.equal(middleBy(runs, r => r.p99).name, 'd', 'middleBy: the item with the middle key, the upper one of an even count')
  t.equal(middleBy(runs.slice(0, 3), r => r.p99).name, 'c')
  t.same(runs.map(r => r.name), ['a', 'b', 'c', 'd'], 'the items are left in their order')
})

test('mergePaced takes its percentiles over every sample of the slices, not the mean of theirs', async t => {
  // Slice a: 99 answers of 1 ms and one of 100 ms; slice b: 100 of 2 ms. Together (200 samples)
  // the p99 is the 198th, 2 ms: one answer in 200 was slow, under 1%. The mean of the slices' own
  // p99s would say 1.5 ms.
  const a = { rps: 100, p50: 1, p99: 1, errors: 1, non2xx: 0, latencies: [...Array(99).fill(1), 100], seconds: 1 }
  const b = { rps: 50, p50: 2, p99: 2, errors: 0, non2xx: 3, latencies: Array(100).fill(2), seconds: 2 }
  t.same(mergePaced([a, b]), { rps: 200 / 3, p50: 2, p99: 2, errors: 1, non2xx: 3 })
  // Three slow answers in 200 (1.5%): the p99 is the smallest of them.
  const c = { ...b, latencies: [...Array(98).fill(2), 50, 60] }
  t.equal(mergePaced([a, c]).p99, 50)
})

test('parseCpuTimes and stolenShare read steal off /proc/stat', async t => {
  const before = parseCpuTimes('cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 50 0 25 400 5 0 2 18 0 0\n')
  t.same(before, { total: 1000, steal: 35 })
  const after = parseCpuTimes('cpu  150 0 60 920 10 0 5 55 0 0\n')
  t.equal(stolenShare(before, after), 20 / 200)
  t.equal(stolenShare(after, after), 0, 'no time passed: nothing taken')
  t.throws(() => parseCpuTimes('intr 1 2 3\n'), /cpu line/)
})

test('leastStolen measures again while the host took too much, and keeps the least stolen run', async t => {
  const run = (steals: number[]) => {
    let n = 0
    return async () => ({ result: `run ${n}`, steal: steals[n++] })
  }
  t.same(await leastStolen(run([0.001]), 0.01, 3), { result: 'run 0', steal: 0.001, attempts: 1 }, 'a clean run is kept at once')
  t.same(await leastStolen(run([0.2, 0.005, 0.5]), 0.01, 3), { result: 'run 1', steal: 0.005, attempts: 2 }, 'the first clean run ends it')
  t.same(await leastStolen(run([0.2, 0.05, 0.3]), 0.01, 3), { result: 'run 1', steal: 0.05, attempts: 3 }, 'never clean: the least stolen of all')
  await t.rejects(leastStolen(run([0]), 0.01, 0), /at least 1/)
})
