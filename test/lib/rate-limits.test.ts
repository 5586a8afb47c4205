import t from 'tap'
import { combineLimits } from '../../lib/rate-limits.ts'

t.test('the limit closest to running out names the headers', async t => {
  const verdict = combineLimits([{ max: 10, remaining: 7, ttlInSeconds: 40, isExceeded: false }, { max: 5, remaining: 1, ttlInSeconds: 20, isExceeded: false }])
  t.same(verdict, { exceeded: false, headers: { 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '20' } })
})

t.test('an exceeded limit refuses, with the latest reset as Retry-After (never 0)', async t => {
  t.match(combineLimits([{ max: 10, remaining: 0, ttlInSeconds: 0, isExceeded: true }]).headers, { 'retry-after': '1' })
  const verdict = combineLimits([{ max: 10, remaining: 0, ttlInSeconds: 12, isExceeded: true }, { max: 5, remaining: 0, ttlInSeconds: 30, isExceeded: true }])
  t.same(verdict, { exceeded: true, headers: { 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '30', 'retry-after': '30' } })
})

t.test('no limit, no headers', async t => {
  t.same(combineLimits([]), { exceeded: false, headers: {} })
})
