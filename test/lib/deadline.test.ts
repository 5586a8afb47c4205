import t from 'tap'
import { settleWithin } from '../../lib/deadline.ts'

function timers (): number {
  return process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
}

t.test('resolves as soon as the work settles, and leaves no timer behind', async t => {
  const before = timers()
  const started = performance.now()
  await settleWithin(Promise.resolve('done'), 10_000)
  t.ok(performance.now() - started < 5000, 'did not wait for the deadline')
  t.equal(timers(), before, 'the deadline\'s timer was cleared')
})

t.test('a failure of the work is not thrown', async t => {
  const before = timers()
  await t.resolves(settleWithin(Promise.reject(new Error('collector refused')), 10_000))
  t.equal(timers(), before)
})

t.test('work that never settles is given up at the deadline', async t => {
  const started = performance.now()
  await settleWithin(new Promise(() => {}), 50)
  t.ok(performance.now() - started >= 45, 'waited until the deadline')
})
