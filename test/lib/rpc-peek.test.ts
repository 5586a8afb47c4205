import t from 'tap'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { summarize } from '../../lib/rpc-peek.ts'
import { watchBody } from '../../lib/body-watch.ts'

t.test('summarize: a request, a notification, a batch, a tool call', async t => {
  t.same(summarize('{"jsonrpc":"2.0","id":1,"method":"tools/list"}'), { method: 'tools/list' })
  t.same(summarize('{"jsonrpc":"2.0","method":"notifications/initialized"}'), { method: 'notifications/initialized' })
  t.same(summarize('[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]'), { method: 'ping' })
  t.same(summarize('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"retrieve"}}'), { method: 'tools/call', tool: 'retrieve' })
  t.same(summarize('{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p"}}'), { method: 'prompts/get' }, 'a name outside tools/call is not a tool')
})

t.test('summarize: a cut-off or broken body, and hostile values', async t => {
  t.same(summarize('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"aaaa'), { method: 'tools/call', tool: 'echo' })
  t.same(summarize('not json'), {})
  t.same(summarize('null'), {})
  t.same(summarize('{"method":42}'), {})
  t.equal(summarize(JSON.stringify({ method: 'm'.repeat(10_000) })).method?.length, 128, 'long names are cut')
})

t.test('the watched body passes every byte through and its head names the call', async t => {
  const chunks = ['{"jsonrpc":"2.0","id":1,', '"method":"tools/call","params":{"name":"echo",', `"arguments":{"text":"${'z'.repeat(50_000)}"}}}`]
  const watched = watchBody(Readable.from(chunks.map(c => Buffer.from(c))), { limit: Infinity, keep: 100 })
  t.equal(await text(watched.body), chunks.join(''))
  t.equal(watched.head().length, 100, 'only the first bytes are kept')
  t.same(summarize(watched.head().toString('utf8')), { method: 'tools/call', tool: 'echo' })
})

t.test('an error of the source reaches the reader', async t => {
  const source = new Readable({ read () {} })
  const watched = watchBody(source, { limit: Infinity, keep: 64 })
  const failed = text(watched.body).then(() => null, (err: Error) => err.message)
  source.destroy(new Error('cut off'))
  t.equal(await failed, 'cut off')
})
