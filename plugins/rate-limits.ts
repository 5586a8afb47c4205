import fp from 'fastify-plugin'
import Fastify from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { combineLimits } from '../lib/rate-limits.ts'
import type { LimitState } from '../lib/rate-limits.ts'
import { gatewayError } from '../lib/errors.ts'

type Limiter = (request: FastifyRequest) => Promise<LimitState | null>

const WINDOW_MS = 60_000

/**
 * Requests per minute per user (`RATE_LIMIT_USER_PER_MIN`) and per organization
 * (`RATE_LIMIT_ORG_PER_MIN`), counted with @fastify/rate-limit in Redis when there is one, so a
 * limit holds across the fleet. Keyed after authentication: the check is a preHandler, which runs
 * once every tenant check (token, membership, session) has passed, and only on those requests.
 */
async function rateLimitsPlugin (fastify: FastifyInstance): Promise<void> {
  const c = fastify.config
  const limits: Array<[string, number, (request: FastifyRequest) => string]> = [
    ['user', c.rateLimitUserPerMin, request => request.tenant?.userId ?? ''],
    ['org', c.rateLimitOrgPerMin, request => request.tenant?.path.org ?? '']
  ]
  const limiters: Limiter[] = []
  for (const [name, max, key] of limits) {
    if (max > 0) limiters.push(await createLimiter(fastify, name, max, key))
  }
  if (limiters.length === 0) return

  fastify.addHook('preHandler', async function limitRate (request: FastifyRequest, reply: FastifyReply) {
    if (request.tenant?.destination === undefined) return
    const states: LimitState[] = []
    // In order, and no further once one is exceeded: a request refused by its user's limit uses up
    // none of its organization's, so one user cannot spend the organization's budget. A request the
    // organization's limit refuses has counted against its user's (@fastify/rate-limit has no way
    // to give a count back, and a look first would cost every request a second round trip).
    for (const limiter of limiters) {
      const state = await limiter(request)
      if (state === null) continue
      states.push(state)
      if (state.isExceeded) break
    }
    const verdict = combineLimits(states)
    if (verdict.exceeded) throw gatewayError('GW_RATE_LIMITED', 'too many requests, retry later', verdict.headers)
    reply.headers(verdict.headers)
  })
}

/**
 * One @fastify/rate-limit of its own (its own counters and Redis namespace), registered on a
 * private Fastify instance that never listens: the gateway calls it itself, with its key. Not in
 * a child context of the app: @fastify/rate-limit adds `createRateLimit` only where no context
 * above has one, so in a host app that registered it first, a child got the host's limiter (its
 * `max`, its key, its store) and the gateway's limits silently did not hold.
 */
async function createLimiter (fastify: FastifyInstance, name: string, max: number, key: (request: FastifyRequest) => string): Promise<Limiter> {
  const redis = fastify.redis
  const own = Fastify({ logger: false })
  await own.register(rateLimit, {
    global: false,
    max,
    timeWindow: WINDOW_MS,
    keyGenerator: key,
    // Redis down: the request is not refused for want of a counter (membership still fails closed).
    skipOnError: true,
    ...(redis === null ? {} : { redis: redis.client, nameSpace: `${redis.keyPrefix}rate:${name}:` })
  })
  await own.ready()
  fastify.addHook('onClose', async () => { await own.close() })
  const check = own.createRateLimit()
  return async function limiter (request) {
    const result = await check(request)
    return result.isAllowed ? null : result
  }
}

export default fp(rateLimitsPlugin, { name: 'rate-limits', fastify: '5.x', dependencies: ['config', 'redis'] })
