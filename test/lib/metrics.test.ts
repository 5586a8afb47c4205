import t from 'tap'
import { createGatewayMetrics } from '../../lib/metrics.ts'

const sources = { membership: () => ({ hit: 0, miss: 0, error: 0 }), jwksFetches: () => 0, openStreams: () => 0 }

t.test('the process metrics are made once per process, the gateway\'s own once per app', async t => {
  const first = createGatewayMetrics(sources, true)
  const second = createGatewayMetrics(sources, true)
  // What collects them (a GC observer, an event-loop delay monitor) cannot be stopped: made per
  // app, every app closed in a process that goes on would leave one running behind it.
  for (const name of ['nodejs_gc_duration_seconds', 'nodejs_eventloop_lag_seconds', 'process_cpu_user_seconds_total']) {
    const metric = first.registry.getSingleMetric(name)
    t.ok(metric, `${name} is there`)
    t.equal(second.registry.getSingleMetric(name), metric, `${name} is the same object in both`)
  }
  t.not(second.registry.getSingleMetric('mcp_gateway_requests_total'), first.registry.getSingleMetric('mcp_gateway_requests_total'))
  first.request('ok', 0.01)
  t.match(await first.registry.metrics(), /mcp_gateway_requests_total\{outcome="ok"\} 1/)
  t.match(await second.registry.metrics(), /mcp_gateway_requests_total\{outcome="ok"\} 0/)
})

t.test('without process defaults only the gateway\'s metrics are there', async t => {
  const metrics = createGatewayMetrics(sources, false)
  t.equal(metrics.registry.getSingleMetric('process_cpu_user_seconds_total'), undefined)
  t.ok(metrics.registry.getSingleMetric('mcp_gateway_requests_total'))
})
