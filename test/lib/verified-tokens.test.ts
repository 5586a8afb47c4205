import t from 'tap'
import { createVerifiedTokenCache } from '../../lib/verified-tokens.ts'

const signature = 'S'.repeat(300) + 'abcdefghijklmnopqrstuvwxyz0123456789'
const header = (payload: string, sig = signature): string => `Bearer eyJhbGciOiJSUzI1NiJ9.${payload}.${sig}`
const inAnHour = (): number => Math.floor(Date.now() / 1000) + 3600

t.test('answers only the exact header it was given', async t => {
  const cache = createVerifiedTokenCache({ max: 10, maxTtlMs: 60_000 })
  const claims = { sub: 'user_a', exp: inAnHour() }
  cache.set(header('payloadA'), claims)
  t.equal(cache.get(header('payloadA')), claims)
  // The same signature's ending with another payload (a forged token): not the cached claims.
  t.equal(cache.get(header('payloadB')), undefined)
  t.equal(cache.get(header('payloadA').toLowerCase()), undefined)
  t.equal(cache.get(header('payloadA').slice(1)), undefined, 'a suffix of the header is not the header')
  t.equal(cache.get(`${header('payloadA')}x`), undefined)
  t.equal(cache.get(signature.slice(-32)), undefined)
})

t.test('two tokens that end alike: the newer is kept, neither answers for the other', async t => {
  const cache = createVerifiedTokenCache({ max: 10, maxTtlMs: 60_000 })
  const a = { sub: 'user_a', exp: inAnHour() }
  const b = { sub: 'user_b', exp: inAnHour() }
  cache.set(header('payloadA'), a)
  cache.set(header('payloadB'), b)
  t.equal(cache.get(header('payloadA')), undefined)
  t.equal(cache.get(header('payloadB')), b)
})

t.test('never past exp nor maxTtlMs; a token without exp is not kept', async t => {
  const cache = createVerifiedTokenCache({ max: 10, maxTtlMs: 60_000 })
  cache.set(header('expired', 'x'.repeat(64)), { sub: 'u', exp: Math.floor(Date.now() / 1000) - 1 })
  t.equal(cache.get(header('expired', 'x'.repeat(64))), undefined)
  cache.set(header('noexp', 'y'.repeat(64)), { sub: 'u' })
  t.equal(cache.get(header('noexp', 'y'.repeat(64))), undefined)

  const short = createVerifiedTokenCache({ max: 10, maxTtlMs: 30 })
  const claims = { sub: 'u', exp: inAnHour() }
  short.set(header('p'), claims)
  t.equal(short.get(header('p')), claims)
  await new Promise(resolve => setTimeout(resolve, 60))
  t.equal(short.get(header('p')), undefined, 'gone after maxTtlMs')
})

t.test('bounded: the least recently used entry goes first', async t => {
  const cache = createVerifiedTokenCache({ max: 2, maxTtlMs: 60_000 })
  const exp = inAnHour()
  const tokens = ['1', '2', '3'].map(n => header('p', n.repeat(40)))
  cache.set(tokens[0], { sub: 'u1', exp })
  cache.set(tokens[1], { sub: 'u2', exp })
  t.ok(cache.get(tokens[0]))
  cache.set(tokens[2], { sub: 'u3', exp })
  t.ok(cache.get(tokens[0]))
  t.equal(cache.get(tokens[1]), undefined)
  t.ok(cache.get(tokens[2]))
})

t.test('userFor: one check per token and tenant; a refusal is not kept', async t => {
  const cache = createVerifiedTokenCache<{ userId: string }>({ max: 10, maxTtlMs: 60_000 })
  const checks: string[] = []
  const check = (claims: Record<string, unknown>, org: string) => {
    checks.push(org)
    if (org !== claims.org) throw new Error('not this tenant')
    return { userId: claims.sub as string }
  }
  t.equal(cache.userFor(header('p'), 'org_a', check), undefined, 'not cached: no check at all')
  t.same(checks, [])
  cache.set(header('p'), { sub: 'user_a', org: 'org_a', exp: inAnHour() })
  t.same(cache.userFor(header('p'), 'org_a', check), { userId: 'user_a' })
  t.same(cache.userFor(header('p'), 'org_a', check), { userId: 'user_a' })
  t.same(checks, ['org_a'], 'checked once for org_a')
  t.equal(cache.userFor(header('p'), 'org_b', check), undefined, 'refused for another tenant')
  t.equal(cache.userFor(header('p'), 'org_b', check), undefined, 'and again: a refusal is not kept')
  t.same(checks, ['org_a', 'org_b', 'org_b'])
  t.same(cache.userFor(header('p'), 'org_a', check), { userId: 'user_a' })
  t.same(checks, ['org_a', 'org_b', 'org_b'], 'the answer kept for org_a still stands')
  t.equal(cache.userFor(header('forged'), 'org_a', check), undefined, 'another header ending alike gets nothing')

  // A token good for two tenants: the last one checked is the one kept.
  const both = (claims: Record<string, unknown>, org: string) => { checks.push(org); return { userId: `${claims.sub as string}@${org}` } }
  checks.length = 0
  t.same(cache.userFor(header('p'), 'org_b', both), { userId: 'user_a@org_b' })
  t.same(cache.userFor(header('p'), 'org_a', both), { userId: 'user_a@org_a' })
  t.same(cache.userFor(header('p'), 'org_a', both), { userId: 'user_a@org_a' })
  t.same(checks, ['org_b', 'org_a'])
})
