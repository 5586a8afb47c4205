import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PassThrough } from 'node:stream'
import type { Readable } from 'node:stream'
import Fastify from 'fastify'
import replyFrom from '@fastify/reply-from'

/**
 * The servers bench/gc-survival.ts compares, one per process: `node` (also the upstream),
 * `fastify` answering itself, and @fastify/reply-from as the bare proxy uses it (`reply-from`: both
 * bodies streamed), with the request body read whole first (`request-buffered`), passed through a
 * PassThrough (`request-passthrough`), or with the answer read whole before it is sent
 * (`response-buffered`).
 */
const kind = process.argv[2]
const RESULT = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'x'.repeat(900) }] } })

function ready (port: number): void {
  process.stdout.write(JSON.stringify({ port }) + '\n')
}

if (kind === 'node') {
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(RESULT) })
      res.end(RESULT)
    })
  })
  server.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port))
} else {
  const app = Fastify({ logger: false })
  if (kind === 'fastify') {
    app.post('/*', (_request, reply) => { reply.header('content-type', 'application/json').send(RESULT) })
  } else {
    // @fastify/reply-from as the bare proxy uses it (both bodies streamed), or with the request
    // body read whole first, or with the answer read whole before it is sent.
    await app.register(replyFrom, { base: process.env.UPSTREAM, undici: { connections: null, pipelining: 1, keepAliveTimeout: 30_000, bodyTimeout: 0 } })
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', (_request, payload, done) => {
      if (kind === 'request-passthrough') return done(null, payload.pipe(new PassThrough()))
      if (kind !== 'request-buffered') return done(null, payload)
      const chunks: Buffer[] = []
      payload.on('data', (chunk: Buffer) => chunks.push(chunk))
      payload.on('end', () => done(null, Buffer.concat(chunks)))
    })
    app.post('/*', (request, reply) => reply.from('/x', {
      retryDelay: () => null,
      ...(kind === 'request-buffered' ? { body: request.body as Buffer } : {}),
      ...(kind === 'response-buffered'
        ? {
            onResponse: (_request, reply, res) => {
              const chunks: Buffer[] = []
              const stream = (res as unknown as { stream: Readable }).stream
              stream.on('data', (chunk: Buffer) => chunks.push(chunk))
              stream.on('end', () => { reply.send(Buffer.concat(chunks)) })
            }
          }
        : {})
    }))
  }
  await app.listen({ port: 0, host: '127.0.0.1' })
  ready((app.server.address() as AddressInfo).port)
}
