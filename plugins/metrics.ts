import fp from 'fastify-plugin'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createGatewayMetrics, outcomeOf } from '../lib/metrics.ts'
import type { GatewayMetrics } from '../lib/metrics.ts'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: GatewayMetrics & {
      /** Where `/metrics` is served (`http://host:port`), or null when `METRICS_PORT` is not set. */
      readonly url: string | null
    }
  }
}

const TENANT_ROUTE = /^\/:org\/mcp(\/\*)?$/

/**
 * Prometheus metrics: the gateway's own registry, fed by a hook on every tenant request, served
 * as text at `/metrics` on a listener of its own (`METRICS_PORT`), never on the public port.
 */
async function metricsPlugin (fastify: FastifyInstance): Promise<void> {
  const c = fastify.config
  const metrics = createGatewayMetrics({
    membership: () => fastify.membership.stats,
    jwksFetches: () => fastify.keyStore.fetches,
    openStreams: () => fastify.upstream.streams.size
  }, c.metricsPort !== undefined)

  let url: string | null = null
  fastify.decorate('metrics', Object.assign(metrics, { get url () { return url } }))
  // No listener, no reader: the hot path then pays nothing for metrics.
  if (c.metricsPort === undefined) return

  // The error code a request was refused with; a request without one was answered by Ragie.
  const refusals = new WeakMap<FastifyRequest, string>()
  fastify.addHook('onError', async function noteRefusal (request, _reply, error) {
    refusals.set(request, (error as { code?: string }).code ?? 'unknown')
  })
  // Counted when the response closes, as the request line is written (app.ts says why): an event
  // stream the client leaves, and a request whose client left before any answer, count too.
  // Timed from this hook, not with `reply.elapsedTime`: Fastify keeps no start time in an app
  // without a logger (the gateway embedded in a host's `Fastify()`), where that reads 0.
  function countRequest (request: FastifyRequest, reply: FastifyReply, start: number): void {
    const seconds = (performance.now() - start) / 1000
    if (!reply.raw.headersSent) return metrics.request('client_closed', seconds)
    const code = refusals.get(request)
    metrics.request(outcomeOf(reply.statusCode, code), seconds)
    if (code === undefined) metrics.upstreamResponse(reply.statusCode)
  }
  fastify.addHook('onRequest', function countOnClose (request, reply, done) {
    if (request.method !== 'OPTIONS' && TENANT_ROUTE.test(request.routeOptions.url ?? '')) {
      const start = performance.now()
      reply.raw.on('close', () => { countRequest(request, reply, start) })
    }
    done()
  })

  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    metrics.registry.metrics().then(text => {
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text)
    }, () => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n')
    })
  })
  fastify.addHook('onClose', async () => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(c.metricsPort, c.metricsHost, () => resolve())
  })
  const { address, port } = server.address() as AddressInfo
  url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`
  fastify.log.info({ url: `${url}/metrics` }, 'metrics listening')
}

export default fp(metricsPlugin, { name: 'metrics', fastify: '5.x', dependencies: ['config', 'membership', 'jwks-auth', 'proxy'] })
