import t from 'tap'
import { PassThrough } from 'node:stream'
import { BodyTooLargeError, tapBody, watchBody } from '../../lib/body-watch.ts'

async function readAll (stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

t.test('tapBody loses no byte when the reader attaches later, and keeps only the first ones', async t => {
  const source = new PassThrough()
  const tapped = tapBody(source, 5)
  source.write('hello ')
  source.end('world')
  // The proxy connects upstream before it reads: the listener alone must not start the flow.
  await new Promise(resolve => setTimeout(resolve, 20))
  t.equal((await readAll(tapped.body)).toString(), 'hello world')
  t.equal(tapped.head().toString(), 'hello')
})

t.test('tapBody with nothing to keep leaves the body alone', async t => {
  const source = new PassThrough()
  const tapped = tapBody(source, 0)
  t.equal(tapped.body, source)
  t.equal(source.listenerCount('data'), 0)
  source.end('x')
  t.equal((await readAll(tapped.body)).toString(), 'x')
})

t.test('watchBody counts against the limit and keeps the first bytes', async t => {
  const source = new PassThrough()
  const watched = watchBody(source, { limit: 10, keep: 3 })
  source.end('0123456789')
  t.equal((await readAll(watched.body)).toString(), '0123456789')
  t.equal(watched.head().toString(), '012')

  const big = new PassThrough()
  const limited = watchBody(big, { limit: 4, keep: 0 })
  big.end('01234')
  await t.rejects(readAll(limited.body), BodyTooLargeError)
})
