import t from 'tap'
import { join } from 'node:path'
import { backlogWarning, kernelBacklogCap } from '../../lib/backlog.ts'

t.test('kernelBacklogCap reads a positive whole number, and nothing else', async t => {
  const dir = t.testdir({ good: '4096\n', zero: '0\n', junk: 'many\n' })
  t.equal(kernelBacklogCap(join(dir, 'good')), 4096)
  t.equal(kernelBacklogCap(join(dir, 'zero')), undefined)
  t.equal(kernelBacklogCap(join(dir, 'junk')), undefined)
  t.equal(kernelBacklogCap(join(dir, 'missing')), undefined)
})

t.test('backlogWarning speaks only when the kernel gives less than asked', async t => {
  t.equal(backlogWarning(4096, 4096), undefined)
  t.equal(backlogWarning(1000, 4096), undefined)
  t.equal(backlogWarning(8192, undefined), undefined, 'an unknown cap is not a reason to warn')
  t.match(backlogWarning(8192, 4096), /LISTEN_BACKLOG is 8192 but net\.core\.somaxconn is 4096/)
})
