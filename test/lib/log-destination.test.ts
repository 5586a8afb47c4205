import t from 'tap'
import type { Test } from 'tap'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLogDestination } from '../../lib/log-destination.ts'

function fileDestination (t: Test, opts: { flushBytes?: number, flushMs?: number } = {}) {
  const path = join(t.testdir(), 'log')
  const fd = openSync(path, 'w')
  t.teardown(() => closeSync(fd))
  return { destination: createLogDestination({ fd, ...opts }), read: () => readFileSync(path, 'utf8') }
}

t.test('gathers lines until flushBytes, then writes them in order, bytes intact', async t => {
  const { destination, read } = fileDestination(t, { flushBytes: 100, flushMs: 60_000 })
  destination.write('{"n":1,"msg":"é"}\n')
  destination.write('{"n":2,"msg":"🔐"}\n')
  t.equal(read(), '', 'nothing written below flushBytes')
  const lines = Array.from({ length: 10 }, (_, i) => `{"n":${i + 3},"msg":"${'x'.repeat(20)}"}\n`)
  for (const line of lines) destination.write(line)
  const written = read()
  t.ok(written.length >= 100, 'written once past flushBytes')
  t.ok(`{"n":1,"msg":"é"}\n{"n":2,"msg":"🔐"}\n${lines.join('')}`.startsWith(written), 'in order, nothing changed')
  destination.flushSync()
  t.equal(read(), `{"n":1,"msg":"é"}\n{"n":2,"msg":"🔐"}\n${lines.join('')}`, 'flushSync writes the rest')
  destination.flushSync()
  t.equal(read().split('\n').length, 13, 'a second flushSync writes nothing twice')
})

t.test('a line larger than the whole buffer is written intact, after what was gathered', async t => {
  const { destination, read } = fileDestination(t, { flushBytes: 64, flushMs: 60_000 })
  destination.write('first\n')
  const big = `${'ü'.repeat(1000)}\n`
  destination.write(big)
  destination.write('last\n')
  destination.flushSync()
  t.equal(read(), `first\n${big}last\n`)
})

t.test('what is gathered is written within flushMs without another line', async t => {
  const { destination, read } = fileDestination(t, { flushBytes: 16 * 1024, flushMs: 20 })
  destination.write('{"quiet":true}\n')
  t.equal(read(), '')
  for (let i = 0; i < 100 && read() === ''; i++) await new Promise(resolve => setTimeout(resolve, 20))
  t.equal(read(), '{"quiet":true}\n')
})

t.test('a descriptor that refuses writes is reported once, and logging goes on', async t => {
  // Far above any descriptor this process has open: a write to it fails with EBADF.
  const fd = 1_000_000
  const errors: string[] = []
  const destination = createLogDestination({ fd, flushBytes: 16, flushMs: 60_000, onError: err => errors.push(err.code ?? '') })
  for (let i = 0; i < 5; i++) destination.write('{"a line":"longer than sixteen bytes"}\n')
  destination.flushSync()
  t.same(errors, ['EBADF'])
})
