import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { RedisLink } from '../lib/redis.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared store of a fleet; null when `REDIS_URL` is not set (one instance, all in memory). */
    redis: RedisLink | null
  }
}

// Long enough for a local or same-zone Redis to answer, short enough not to hold a start.
const START_WAIT_MS = 2000

/**
 * Connects to Redis when `REDIS_URL` is set and decorates `fastify.redis`. The gateway starts
 * even when Redis does not answer: it serves what it has cached and logs until Redis is back.
 */
async function redisPlugin (fastify: FastifyInstance): Promise<void> {
  const c = fastify.config
  if (c.redisUrl === undefined) {
    fastify.decorate('redis', null)
    return
  }
  // Loaded only for a fleet: a single instance keeps ioredis out of its memory.
  const { createRedisLink } = await import('../lib/redis.ts')
  const link = createRedisLink({
    url: c.redisUrl,
    keyPrefix: c.redisKeyPrefix,
    commandTimeoutMs: c.redisTimeoutMs,
    onStateChange (state, reason) {
      if (state === 'up') fastify.log.info('redis connected')
      else fastify.log.error({ reason }, 'redis unreachable: serving from the local cache, unknown users get 503 until it is back')
    }
  })
  fastify.decorate('redis', link)
  fastify.addHook('onClose', async () => { await link.close() })
  if (!await link.waitUntilUp(START_WAIT_MS)) {
    fastify.log.error('redis not reachable at start: serving from the local cache, unknown users get 503 until it is')
  }
}

export default fp(redisPlugin, { name: 'redis', fastify: '5.x', dependencies: ['config'] })
