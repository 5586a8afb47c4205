import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { settleWithin } from '../lib/deadline.ts'

const SHUTDOWN_EXPORT_MS = 2000

/**
 * OpenTelemetry when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: @fastify/otel traces each request and
 * its hooks, and the three steps that wait on something else get spans of their own: token
 * verification (JWKS), membership (cache, Redis, WorkOS) and the upstream call (until Ragie's
 * answer has been passed on). Spans carry no token, key or user id; the request span's path
 * (with its organization id) is @fastify/otel's own.
 */
async function tracingPlugin (fastify: FastifyInstance): Promise<void> {
  const c = fastify.config
  if (c.otelEndpoint === undefined) return
  // Loaded only when tracing is on: the OpenTelemetry SDK is most of the gateway's module memory,
  // and a bigger heap makes every garbage collection longer.
  const { SpanStatusCode, createTracing, inSpan } = await import('../lib/tracing.ts')
  const tracing = createTracing({ endpoint: c.otelEndpoint, serviceName: c.otelServiceName })
  const { tracer } = tracing
  await fastify.register(tracing.instrumentation.plugin())
  // The last spans are sent as the app closes, but a collector that does not answer must not hold
  // the close past server.ts's deadline (the exporter would wait its own 10 s): 2 s, then on.
  fastify.addHook('onClose', async () => { await settleWithin(tracing.shutdown(), SHUTDOWN_EXPORT_MS) })

  // The steps are decorators of other plugins: wrapped here, so tracing stays in one file.
  const authenticate = fastify.authenticate
  fastify.authenticate = (request, org) => inSpan(tracer, 'gateway.verify_token', () => authenticate(request, org))

  const membership = fastify.membership
  const get = membership.get
  membership.get = (userId, organizationId) => inSpan(tracer, 'gateway.membership', () => get(userId, organizationId))

  const upstream = fastify.upstream
  const forward = upstream.forward
  upstream.forward = (request, reply, destination) => {
    const span = tracer.startSpan('gateway.upstream', { attributes: { 'http.request.method': request.method } })
    reply.raw.once('close', () => {
      span.setAttribute('http.response.status_code', reply.statusCode)
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
      span.end()
    })
    return forward(request, reply, destination)
  }
}

export default fp(tracingPlugin, { name: 'tracing', fastify: '5.x', dependencies: ['config', 'jwks-auth', 'membership', 'proxy'] })
