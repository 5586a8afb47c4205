import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { disableMaglev, disablePretenuring, tuneV8 } from '../../lib/v8-flags.ts'

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'pretenuring.ts')
const TRACE = ['--trace-pretenuring', '--trace-pretenuring-statistics']

/**
 * Runs a fixture with `nodeFlags` and its argument: every line it and V8's traces printed, and
 * what the fixture's own line (a JSON object) says its disable call returned. That line is found,
 * not taken as the last: V8's compiler threads may print after it.
 */
async function runFixture (fixture: string, nodeFlags: string[], arg: string): Promise<{ lines: string[], disabled: boolean }> {
  const { stdout } = await promisify(execFile)(process.execPath, [...nodeFlags, fixture, arg], { maxBuffer: 64 * 1024 * 1024 })
  const lines = stdout.trim().split('\n')
  const own = JSON.parse(lines.find(line => line.startsWith('{"disabled"')) as string) as { disabled: boolean }
  return { lines, disabled: own.disabled }
}

async function run (nodeFlags: string[], arg: string): Promise<{ decisions: number, disabled: boolean }> {
  const { lines, disabled } = await runFixture(FIXTURE, nodeFlags, arg)
  return { decisions: lines.filter(line => line.includes('pretenuring: AllocationSite(')).length, disabled }
}

t.test('disablePretenuring leaves a command line that sets the flag either way alone', async t => {
  t.equal(disablePretenuring(['--allocation-site-pretenuring']), false)
  t.equal(disablePretenuring(['--no-allocation-site-pretenuring']), false)
  t.equal(disablePretenuring(['--max-old-space-size=512', '--no-allocation_site_pretenuring']), false)
  t.equal(disablePretenuring(['--allocation-site-pretenuring-extra']), true, 'only that exact flag')
})

t.test('V8 weighs pretenuring the site without it, and never once it has run', async t => {
  const plain = await run(TRACE, 'keep')
  t.equal(plain.disabled, false)
  t.ok(plain.decisions > 0, `V8 weighed pretenuring the fixture's allocation site (${plain.decisions} decisions)`)

  const disabled = await run(TRACE, 'disable')
  t.equal(disabled.disabled, true)
  t.equal(disabled.decisions, 0, 'no pretenuring decision after disablePretenuring()')

  const chosen = await run([...TRACE, '--allocation-site-pretenuring'], 'disable')
  t.equal(chosen.disabled, false, 'an explicit --allocation-site-pretenuring wins')
  t.ok(chosen.decisions > 0)
})

const MAGLEV_FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'maglev.ts')

/** What `--trace-opt` says V8 compiled the fixture's `hot` function with. */
async function compiledHot (nodeFlags: string[], arg: string): Promise<{ maglev: number, turbofan: number, disabled: boolean }> {
  const { lines, disabled } = await runFixture(MAGLEV_FIXTURE, [...nodeFlags, '--trace-opt'], arg)
  const hot = lines.filter(line => line.includes('compiling method') && line.includes('<JSFunction hot'))
  return { maglev: hot.filter(line => line.includes('target MAGLEV')).length, turbofan: hot.filter(line => line.includes('target TURBOFAN')).length, disabled }
}

t.test('disableMaglev and tuneV8 leave a command line that sets the flag either way alone', async t => {
  t.equal(disableMaglev(['--maglev']), false)
  t.equal(disableMaglev(['--no-maglev']), false)
  t.equal(disableMaglev(['--max-old-space-size=512', '--maglev']), false)
  t.same(tuneV8(['--no-maglev', '--allocation-site-pretenuring']), [], 'both chosen on the command line')
  t.same(tuneV8(['--maglev-inlining']), ['--no-allocation-site-pretenuring', '--no-maglev'], 'only those exact flags count')
})

t.test('V8 compiles a hot function with Maglev without it, and with TurboFan alone once it has run', async t => {
  const plain = await compiledHot([], 'keep')
  t.equal(plain.disabled, false)
  t.ok(plain.maglev > 0, `Maglev compiled the fixture's hot function (${plain.maglev} times)`)

  const disabled = await compiledHot([], 'disable')
  t.equal(disabled.disabled, true)
  t.equal(disabled.maglev, 0, 'no Maglev compilation after disableMaglev()')
  t.ok(disabled.turbofan > 0, `TurboFan compiled it (${disabled.turbofan} times)`)

  const chosen = await compiledHot(['--maglev'], 'disable')
  t.equal(chosen.disabled, false, 'an explicit --maglev wins')
  t.ok(chosen.maglev > 0)
})
