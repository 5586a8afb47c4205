import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createStreamQuota } from '../lib/limits.ts'
import type { StreamQuota } from '../lib/limits.ts'

declare module 'fastify' {
  interface FastifyInstance {
    streamQuota: StreamQuota
  }
}

/**
 * Open event streams per user, at most `MAX_STREAMS_PER_USER` on this instance, so one user
 * cannot hold every socket; decorates `fastify.streamQuota`.
 */
async function streamQuotaPlugin (fastify: FastifyInstance): Promise<void> {
  fastify.decorate('streamQuota', createStreamQuota(fastify.config.maxStreamsPerUser))
}

export default fp(streamQuotaPlugin, { name: 'stream-quota', fastify: '5.x', dependencies: ['config'] })
