import { test } from 'tap'
import { formatGcSummary, gcFields, summariseGcTrace } from '../../bench/gc-trace.ts'

// Lines as `node --trace-gc-nvp` writes them (fields trimmed), between the gateway's log lines.
const TRACE = [
  '{"level":30,"msg":"Server listening at http://127.0.0.1:40000"}',
  '[5877:0x2b01e000:0]      812 ms: pause=1.0 mutator=40.1 gc=s reduce_memory=0 scavenge=1.00 allocated=9688984 promoted=0 new_space_survived=547096',
  '[5877:0x2b01e000:0]     7450 ms: pause=3.2 mutator=90.0 gc=mc reduce_memory=0 mark=2.10 allocated=0 promoted=0',
  '[5877:0x2b01e000:0]     7852 ms: pause=12.7 mutator=316.8 gc=s reduce_memory=0 scavenge=12.70 allocated=54750280 promoted=18118112 new_space_survived=19715504',
  '[5877:0x2b01e000:0]     8100 ms: pause=2.0 mutator=250.0 gc=mms reduce_memory=0 allocated=53000000 promoted=100000 new_space_survived=900000',
  '{"level":30,"msg":"request completed","ms":1.2}'
].join('\n')

test('summariseGcTrace counts the collections, the spells and what was promoted', async t => {
  const summary = summariseGcTrace(TRACE)
  t.equal(summary.minor, 3, 'two scavenges and a minor mark-sweep')
  t.equal(summary.major, 1)
  t.equal(summary.spell, 1, 'only the one with ~20 MB surviving')
  t.equal(summary.allocated, 9688984 + 54750280 + 53000000)
  t.equal(summary.promoted, 18118112 + 100000)
  t.equal(Math.round(summary.pauseMs * 10) / 10, 18.9)
  t.same(summary.sequence, ['s:1', 'mc', 's:20', 'mms:1'])
  const text = formatGcSummary(summary)
  t.match(text, /minor collections 3, of them in a spell \(over 5 MB surviving\) 1; full collections 1/)
  t.match(text, /promoted 18 MB \(15\.5%\)/)
})

test('gcFields reads a trace line and nothing else', async t => {
  t.equal(gcFields('{"level":30,"msg":"gc=s is not a trace line"}'), null)
  t.equal(gcFields('[1:0x1:0]  5 ms: pause=0.5 gc=s allocated=10')?.get('allocated'), '10')
  t.same(summariseGcTrace('').sequence, [], 'an empty log sums to nothing')
})
