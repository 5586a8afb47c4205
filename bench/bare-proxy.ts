import Fastify from 'fastify'
import replyFrom from '@fastify/reply-from'
import type { AddressInfo } from 'node:net'
import { tuneV8 } from '../lib/v8-flags.ts'
import { pinTickObjectShape } from '../lib/tick-shape.ts'
import { createUpstreamPools } from '../lib/upstream-pools.ts'

/**
 * The ceiling of this stack: Fastify and @fastify/reply-from to the same upstream with the same
 * pool settings and the same V8 settings as the gateway (server.ts turns allocation-site
 * pretenuring and Maglev off: see lib/v8-flags.ts; and keeps one nextTick entry alive: see
 * lib/tick-shape.ts), no auth, no logging. It gets the very requests
 * the gateway gets, the bearer token included (it passes it on upstream, as a proxy with no auth of
 * its own does): a ~800-character header costs every proxy something to parse and copy, and a
 * baseline spared it made the gateway's overhead look larger than it is.
 */
tuneV8()
pinTickObjectShape()
const app = Fastify({ logger: false })
const pool = { connections: null, pipelining: 1, keepAliveTimeout: 30_000, bodyTimeout: 0 }
// BARE_FORWARDER=gateway: reply-from's `request` answered by the gateway's own handler, as the
// gateway's proxy plugin does (lib/upstream-request.ts), for a like-for-like comparison of what
// the gateway adds. By default, undici's own pool: the bare proxy as anyone would write it.
const upstream = process.env.BARE_FORWARDER === 'gateway' ? createUpstreamPools(process.env.UPSTREAM as string, pool) : null
await app.register(replyFrom, {
  base: process.env.UPSTREAM,
  undici: upstream === null ? pool : upstream.forReplyFrom()
})
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', (_request, payload, done) => { done(null, payload) })
app.route({
  method: ['GET', 'POST', 'DELETE'],
  url: '/:org/mcp/*',
  handler: (request, reply) => reply.from(`/mcp/bench/${(request.params as { '*': string })['*']}`, { retryDelay: () => null })
})
await app.listen({ port: 0, host: '127.0.0.1', backlog: 8192 })
process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }) + '\n')
// Exit, not die, on a signal: a CPU profile (--cpu-prof) is written only by an exiting process.
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => { app.close().finally(() => process.exit(0)) })
