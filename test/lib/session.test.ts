import t from 'tap'
import { randomBytes } from 'node:crypto'
import { createSessionBinder } from '../../lib/session.ts'

const ALICE = { userId: 'user_alice', org: 'org_A', partition: 'p_A', apiKey: 'ragie_key_1' }
const secret = randomBytes(32)
const binder = createSessionBinder(secret)
const UPSTREAM = '3f0b9c8e-7d1a-4c1e-9b5e-0a1b2c3d4e5f'
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

t.test('a bound id unwraps to the upstream id for its owner only', async t => {
  const id = binder.wrap(UPSTREAM, ALICE) as string
  t.match(id, /^g2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'visible ASCII, as Mcp-Session-Id must be')
  t.not(id, UPSTREAM)
  t.equal(binder.unwrap(id, ALICE), UPSTREAM)
  t.equal(binder.unwrap(id, { ...ALICE, userId: 'user_bob' }), null, 'another user of the same organization')
  t.equal(binder.unwrap(id, { ...ALICE, org: 'org_B' }), null, 'the same user in another organization')
  // The separator keeps (user, org) pairs that concatenate alike apart.
  t.equal(binder.unwrap(id, { ...ALICE, userId: 'user_alic', org: 'eorg_A' }), null)
  t.equal(binder.unwrap(id, { ...ALICE, partition: 'p_B' }), null, 'the organization moved to another partition')
  t.equal(binder.unwrap(id, { ...ALICE, apiKey: 'ragie_key_2' }), null, 'or to another Ragie key')
})

t.test('another instance with the same secret accepts it; one with another secret does not', async t => {
  const id = binder.wrap(UPSTREAM, ALICE) as string
  t.equal(createSessionBinder(Buffer.from(secret)).unwrap(id, ALICE), UPSTREAM)
  t.equal(createSessionBinder(randomBytes(32)).unwrap(id, ALICE), null)
})

t.test('raw, forged, tampered and malformed ids are refused', async t => {
  const id = binder.wrap(UPSTREAM, ALICE) as string
  const [, body, mac] = id.split('.')
  const flipped = mac.slice(0, -2) + (mac.at(-2) === 'A' ? 'B' : 'A') + mac.at(-1)
  const otherUpstream = Buffer.from('another-session').toString('base64url')
  const cases: Record<string, string> = {
    'the raw upstream id': UPSTREAM,
    'a tampered MAC': `g2.${body}.${flipped}`,
    // 32 bytes in 43 characters: the last one's two low bits are unused, and a lenient decoder
    // reads these spellings as the same MAC.
    'the same MAC, spelt non-canonically': `g2.${body}.${mac.slice(0, -1)}${ALPHABET[ALPHABET.indexOf(mac.at(-1) as string) | 1]}`,
    'a MAC moved onto another upstream id': `g2.${otherUpstream}.${mac}`,
    'a truncated MAC': `g2.${body}.${mac.slice(0, 20)}`,
    'no MAC': `g2.${body}.`,
    'an extra part': `${id}.x`,
    'another version': `g1.${body}.${mac}`,
    'padding added': `g2.${body}=.${mac}`,
    empty: '',
    'very long': `g2.${'A'.repeat(10_000)}.${mac}`,
    'two ids joined, as duplicated headers arrive': `${id}, ${id}`
  }
  for (const [what, value] of Object.entries(cases)) t.equal(binder.unwrap(value, ALICE), null, what)
})

t.test('an upstream id that is not visible ASCII or is too long is not wrapped', async t => {
  t.equal(binder.wrap('has space', ALICE), null)
  t.equal(binder.wrap('x'.repeat(257), ALICE), null)
  t.equal(binder.wrap('', ALICE), null)
})
