import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'tick-shape.ts')

interface Outcome {
  alive: boolean
  keys: string[]
  again: boolean
  ran: boolean
}

async function run (mode: 'pin' | 'watch'): Promise<Outcome> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', FIXTURE, mode])
  return JSON.parse(stdout.trim().split('\n').find(line => line.startsWith('{"alive"')) as string) as Outcome
}

// What lib/tick-shape.ts relies on: an entry of nextTick's queue is this object literal.
const TICK_KEYS = ['callback', 'args', 'Symbol(async_id_symbol)', 'Symbol(trigger_async_id_symbol)', 'Symbol(kAsyncContextFrame)']

t.test('a nextTick entry nobody keeps is collected (what pinTickObjectShape is for)', async t => {
  const watched = await run('watch')
  t.same(watched.keys.toSorted(), TICK_KEYS.toSorted(), 'the entry taken is nextTick\'s queue entry')
  t.equal(watched.alive, false, 'collected: with it, the map its site recorded may go')
})

t.test('pinTickObjectShape keeps one nextTick entry alive for good, the same one each call', async t => {
  const pinned = await run('pin')
  t.same(pinned.keys.toSorted(), TICK_KEYS.toSorted(), 'the entry kept is nextTick\'s queue entry')
  t.equal(pinned.alive, true, 'it outlived two full collections after its tick ran')
  t.equal(pinned.again, true, 'a second call returns the entry already kept')
  t.equal(pinned.ran, true, 'later ticks still run (no hook left installed to get in the way)')
})
