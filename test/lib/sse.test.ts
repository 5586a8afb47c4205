import t from 'tap'
import { createEventBoundary } from '../../lib/sse.ts'

/** Whether a comment may follow `text`, fed in the given pieces. */
function betweenAfter (...pieces: string[]): boolean {
  const boundary = createEventBoundary()
  for (const piece of pieces) boundary.feed(Buffer.from(piece))
  return boundary.between
}

t.test('between events: at the start, and after a blank line in any line-ending style', async t => {
  t.ok(betweenAfter(), 'nothing sent yet')
  t.ok(betweenAfter('data: a\n\n'))
  t.ok(betweenAfter('data: a\r\n\r\n'))
  t.ok(betweenAfter('data: a\r\r'))
  t.ok(betweenAfter('data: a\r\n\r'), 'a blank line ended by CR, its LF maybe still to come')
  t.ok(betweenAfter('data: a\n', '\n'), 'the blank line in its own chunk')
  t.ok(betweenAfter('id: 1\nevent: x\ndata: a\ndata: b\n\n'))
  t.ok(betweenAfter(': a comment\n\n'))
  t.ok(betweenAfter('data: a\n\n', '\n'), 'a stray blank line between events')
})

t.test('inside an event: mid-line, after a field line', async t => {
  t.notOk(betweenAfter('data: a'), 'mid-line')
  t.notOk(betweenAfter('data: a\n'), 'a field line ended, the event did not')
  t.notOk(betweenAfter('data: a\n\ndata: b'), 'the next event has begun')
  t.notOk(betweenAfter('data: a\r\n'))
  t.notOk(betweenAfter('data: a\n\n', 'id: 2\n'))
  t.notOk(betweenAfter('data: a\r', '\n'), 'CRLF split over chunks is one line end')
})

t.test('multi-byte characters split across chunks do not confuse it', async t => {
  const bytes = Buffer.from('data: héllo ✓\n\n')
  const boundary = createEventBoundary()
  for (let i = 0; i < bytes.length; i++) {
    boundary.feed(bytes.subarray(i, i + 1))
    if (i < bytes.length - 1) t.notOk(boundary.between, `not between after byte ${i}`)
  }
  t.ok(boundary.between)
})
