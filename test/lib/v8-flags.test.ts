import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { disablePretenuring } from '../../lib/v8-flags.ts'

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'pretenuring.ts')
const TRACE = ['--trace-pretenuring', '--trace-pretenuring-statistics']

async function run (nodeFlags: string[], arg: string): Promise<{ decisions: number, disabled: boolean }> {
  const { stdout } = await promisify(execFile)(process.execPath, [...nodeFlags, FIXTURE, arg], { maxBuffer: 64 * 1024 * 1024 })
  const lines = stdout.trim().split('\n')
  const last = JSON.parse(lines.at(-1) as string) as { disabled: boolean, kept: number }
  return { decisions: lines.filter(line => line.includes('pretenuring: AllocationSite(')).length, disabled: last.disabled }
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
