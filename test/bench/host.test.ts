import { test } from 'tap'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { cpuModel, runningMonitors } from '../../bench/host.ts'

interface Dir { [entry: string]: string | Dir }

// A kdamonds/<n> directory as the kernel lays it out (only the files runningMonitors reads).
function monitor (state: string, sampleUs: string | undefined, action: string | undefined): Dir {
  const intervals: Dir = {}
  if (sampleUs !== undefined) intervals.sample_us = `${sampleUs}\n`
  const schemes: Dir = {}
  if (action !== undefined) schemes[0] = { action: `${action}\n` }
  return { state, contexts: { 0: { monitoring_attrs: { intervals }, schemes } } }
}

test('runningMonitors lists the monitors that are on, with their interval and action', async t => {
  const root = t.testdir({
    nr_kdamonds: '3\n',
    0: monitor('off\n', '500000', 'pageout'),
    1: monitor('on\n', '500000', 'pageout'),
    2: monitor('on\n', '100000', undefined),
    10: monitor('on\n', undefined, 'stat')
  })
  t.same(runningMonitors(root), [
    { sampleMs: 500, action: 'pageout' },
    { sampleMs: 100, action: 'none' }
  ], 'off, and one without an interval, are left out; no scheme reads as none')
})

test('runningMonitors finds none where DAMON is absent', async t => {
  t.same(runningMonitors(join(t.testdir({}), 'no-such-dir')), [])
  t.same(runningMonitors(t.testdir({ nr_kdamonds: '0\n' })), [])
})

test('cpuModel names the CPU as the kernel does, spaces tidied', async t => {
  t.equal(cpuModel([{ model: '  AMD   EPYC 7B13\t64-Core ' }, { model: 'other' }]), 'AMD EPYC 7B13 64-Core')
  t.equal(cpuModel([]), 'unknown CPU', 'a machine whose cores name no model')
  t.equal(cpuModel([{ model: ' ' }]), 'unknown CPU')
  t.equal(cpuModel(), cpuModel(cpus()), 'this machine\'s cores by default')
})
