import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** How a tenant request ended, as `mcp_gateway_requests_total{outcome}` counts it. */
export const OUTCOMES = ['ok', 'unauthenticated', 'invalid_token', 'forbidden', 'not_found', 'rate_limited', 'upstream_error', 'unavailable', 'bad_request', 'client_closed'] as const
export type Outcome = typeof OUTCOMES[number]

const OUTCOME_OF_CODE: Record<string, Outcome> = {
  GW_TOKEN_MISSING: 'unauthenticated',
  GW_TOKEN_INVALID: 'invalid_token',
  GW_ORIGIN_FORBIDDEN: 'forbidden',
  GW_NOT_MEMBER: 'forbidden',
  GW_ROLE_FORBIDDEN: 'forbidden',
  GW_NOT_FOUND: 'not_found',
  GW_SESSION_UNKNOWN: 'not_found',
  GW_TOO_MANY_STREAMS: 'rate_limited',
  GW_RATE_LIMITED: 'rate_limited',
  GW_UPSTREAM_UNREACHABLE: 'upstream_error',
  GW_UPSTREAM_TIMEOUT: 'upstream_error',
  GW_JWKS_UNAVAILABLE: 'unavailable',
  GW_MEMBERSHIP_UNAVAILABLE: 'unavailable',
  GW_CLIENT_CLOSED: 'client_closed'
}

/**
 * The outcome of a request: from the gateway's error code when it refused the request, else
 * from the status (an answer passed on from Ragie is `ok` unless it is a 5xx).
 */
export function outcomeOf (statusCode: number, errorCode: string | undefined): Outcome {
  if (errorCode === undefined) return statusCode >= 500 ? 'upstream_error' : 'ok'
  const known = OUTCOME_OF_CODE[errorCode]
  if (known !== undefined) return known
  if (statusCode === 401) return 'unauthenticated'
  if (statusCode === 403) return 'forbidden'
  if (statusCode === 404) return 'not_found'
  if (statusCode === 429) return 'rate_limited'
  if (statusCode === 502 || statusCode === 504) return 'upstream_error'
  if (statusCode >= 500) return 'unavailable'
  return 'bad_request'
}

/** A value read when Prometheus scrapes, not pushed on the hot path. */
export interface MetricSources {
  membership: () => { hit: number, miss: number, error: number }
  jwksFetches: () => number
  openStreams: () => number
}

/** The gateway's metrics in a registry of their own; no label ever holds a user or an organization. */
export interface GatewayMetrics {
  readonly registry: Registry
  /** One tenant request ended. */
  request: (outcome: Outcome, seconds: number) => void
  /** Ragie answered a tenant request with this status. */
  upstreamResponse: (statusCode: number) => void
}

// prom-client's process and Node.js metrics, once per process: they describe the process, not an
// app, and what collects them (a GC observer, an event-loop delay monitor) has no way to stop. Made
// per app, each app closed in a process that goes on (an embedder's tests, a reload) would leave
// its observer running on every GC, holding its registry for ever.
let processMetrics: Registry | undefined
function processRegistry (): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry()
    collectDefaultMetrics({ register: processMetrics })
  }
  return processMetrics
}

/** Creates the registry; `processDefaults` adds prom-client's process and Node.js metrics. */
export function createGatewayMetrics (sources: MetricSources, processDefaults: boolean): GatewayMetrics {
  const own = new Registry()
  const registers = [own]

  const requests = new Counter({ name: 'mcp_gateway_requests_total', help: 'MCP requests by how they ended', labelNames: ['outcome'], registers })
  for (const outcome of OUTCOMES) requests.inc({ outcome }, 0)
  const duration = new Histogram({
    name: 'mcp_gateway_request_duration_seconds',
    help: 'Time from request to the end of the answer (an event stream counts until it ends)',
    // Up to ten minutes: event streams are long-lived answers.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600],
    registers
  })
  const upstream = new Counter({ name: 'mcp_gateway_upstream_responses_total', help: 'Answers from Ragie by status class', labelNames: ['status_class'], registers })

  new Counter({ // eslint-disable-line no-new
    name: 'mcp_gateway_membership_lookups_total',
    help: 'Membership look-ups: hit (a cache answered), miss (WorkOS answered), error (no answer: 503)',
    labelNames: ['result'],
    registers,
    // The cache keeps the totals; each scrape copies them.
    collect () {
      const totals = sources.membership()
      this.reset()
      for (const result of ['hit', 'miss', 'error'] as const) this.inc({ result }, totals[result])
    }
  })
  new Counter({ // eslint-disable-line no-new
    name: 'mcp_gateway_jwks_fetches_total',
    help: 'JWKS fetches started',
    registers,
    collect () {
      this.reset()
      this.inc(sources.jwksFetches())
    }
  })
  new Gauge({ // eslint-disable-line no-new
    name: 'mcp_gateway_open_streams',
    help: 'Event streams open now',
    registers,
    collect () { this.set(sources.openStreams()) }
  })

  return {
    // The process metrics are the same objects in every app's registry: read, not made again.
    registry: processDefaults ? Registry.merge([processRegistry(), own]) : own,
    request (outcome, seconds) {
      requests.inc({ outcome })
      duration.observe(seconds)
    },
    upstreamResponse (statusCode) {
      upstream.inc({ status_class: `${Math.floor(statusCode / 100)}xx` })
    }
  }
}
