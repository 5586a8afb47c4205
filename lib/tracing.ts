import { SpanStatusCode } from '@opentelemetry/api'
import type { Span, Tracer } from '@opentelemetry/api'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import FastifyOtel from '@fastify/otel'

export { SpanStatusCode }

export interface TracingOptions {
  /** OTLP/HTTP base URL; spans go to `<it>/v1/traces`. */
  endpoint: string
  serviceName: string
}

/** A tracer provider exporting over OTLP/HTTP, and the Fastify instrumentation bound to it. */
export interface Tracing {
  tracer: Tracer
  instrumentation: InstanceType<typeof FastifyOtel.FastifyOtelInstrumentation>
  /** Exports what is left and stops. */
  shutdown: () => Promise<void>
}

/**
 * Sets up tracing. The provider also registers, once per process, the W3C propagator and the
 * async context manager, so an incoming `traceparent` is continued and spans nest by request.
 */
export function createTracing (opts: TracingOptions): Tracing {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${opts.endpoint}/v1/traces` }), { scheduledDelayMillis: 1000 })]
  })
  provider.register()
  const instrumentation = new FastifyOtel.FastifyOtelInstrumentation({
    // @fastify/otel sets url.path to the raw URL, query and all: a token sent as ?access_token=
    // (refused, but sent) would go to the collector. The path alone, as OpenTelemetry defines it.
    requestHook: (span, request) => { span.setAttribute('url.path', pathOf(request.url)) }
  })
  instrumentation.setTracerProvider(provider)
  return {
    tracer: provider.getTracer('mcp-gateway'),
    instrumentation,
    shutdown: async () => {
      instrumentation.disable()
      await provider.shutdown()
    }
  }
}

/** A request URL's path, without its query. */
function pathOf (url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

/** Runs `fn` in a span of its own (a child of the active one); a throw marks the span as failed. */
export async function inSpan<T> (tracer: Tracer, name: string, fn: (span: Span) => T | Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, async span => {
    try {
      return await fn(span)
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as { code?: string }).code ?? (err as Error).name })
      throw err
    } finally {
      span.end()
    }
  })
}
