/** One limit's state after counting a request (the shape @fastify/rate-limit reports). */
export interface LimitState {
  max: number
  remaining: number
  ttlInSeconds: number
  isExceeded: boolean
}

/** What the client is told: the standard headers, and whether the request is refused. */
export interface LimitVerdict {
  exceeded: boolean
  headers: Record<string, string>
}

/**
 * Several limits (per user, per organization) answer as one: an exceeded limit refuses the
 * request with its reset as `Retry-After` (the latest, when several are exceeded); otherwise the
 * headers describe the limit closest to running out.
 */
export function combineLimits (states: readonly LimitState[]): LimitVerdict {
  const exceeded = states.filter(s => s.isExceeded)
  if (exceeded.length > 0) {
    const worst = exceeded.reduce((a, b) => (b.ttlInSeconds > a.ttlInSeconds ? b : a))
    const reset = String(Math.max(worst.ttlInSeconds, 1))
    return {
      exceeded: true,
      headers: { 'x-ratelimit-limit': String(worst.max), 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset, 'retry-after': reset }
    }
  }
  if (states.length === 0) return { exceeded: false, headers: {} }
  const closest = states.reduce((a, b) => (b.remaining < a.remaining ? b : a))
  return {
    exceeded: false,
    headers: { 'x-ratelimit-limit': String(closest.max), 'x-ratelimit-remaining': String(closest.remaining), 'x-ratelimit-reset': String(closest.ttlInSeconds) }
  }
}
