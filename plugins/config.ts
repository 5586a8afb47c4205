import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../lib/config.ts'
import type { Config } from '../lib/config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

/** Options every gateway plugin accepts: a ready config, or the environment to read it from. */
export interface GatewayOptions {
  config?: Config
  env?: Record<string, string | undefined>
}

/** Validates the environment once and decorates `fastify.config`. */
async function configPlugin (fastify: FastifyInstance, opts: GatewayOptions): Promise<void> {
  fastify.decorate('config', opts.config ?? loadConfig(opts.env ?? process.env))
}

export default fp(configPlugin, { name: 'config', fastify: '5.x' })
