import t from 'tap'
import { PassThrough } from 'node:stream'
import { BodyTooLargeError, createStreamQuota, declaredTooLarge } from '../../lib/limits.ts'
import { watchBody } from '../../lib/body-watch.ts'

t.test('a declared Content-Length over the limit, or not a length, is too large', async t => {
  t.notOk(declaredTooLarge(undefined, 10))
  t.notOk(declaredTooLarge('10', 10))
  t.ok(declaredTooLarge('11', 10))
  t.ok(declaredTooLarge('99999999999999999999', 10))
  t.ok(declaredTooLarge('1e3', 10000), 'not digits')
})

t.test('watchBody passes a body up to the limit and errors past it', async t => {
  const source = new PassThrough()
  const limited = watchBody(source, { limit: 10, keep: 0 }).body
  const seen: Buffer[] = []
  limited.on('data', (chunk: Buffer) => seen.push(chunk))
  const failed = new Promise<Error>(resolve => limited.on('error', resolve))
  source.write('12345')
  source.write('67890')
  source.write('x')
  const err = await failed
  t.type(err, BodyTooLargeError)
  t.equal(Buffer.concat(seen).toString(), '1234567890', 'nothing past the limit went through')
})

t.test('watchBody passes an error of the source on', async t => {
  const source = new PassThrough()
  const limited = watchBody(source, { limit: 10, keep: 0 }).body
  const failed = new Promise<Error>(resolve => limited.on('error', resolve))
  source.destroy(new Error('client went away'))
  t.match((await failed).message, /client went away/)
})

t.test('the stream quota counts per key, and a release frees exactly one slot', async t => {
  const quota = createStreamQuota(2)
  const a1 = quota.acquire('alice')
  const a2 = quota.acquire('alice')
  t.ok(a1 !== null && a2 !== null)
  t.equal(quota.acquire('alice'), null, 'the third is refused')
  t.not(quota.acquire('bob'), null, 'another key has its own slots')
  a1?.()
  a1?.()
  t.equal(quota.held('alice'), 1, 'releasing twice frees one slot')
  t.not(quota.acquire('alice'), null)
  t.equal(quota.acquire('alice'), null)
})

t.test('a quota of 0 never refuses', async t => {
  const quota = createStreamQuota(0)
  for (let i = 0; i < 100; i++) t.not(quota.acquire('alice'), null)
})
