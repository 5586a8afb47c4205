import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { configWarnings, loadConfig } from '../lib/config.ts'
import type { Config } from '../lib/config.ts'
import { ConfigError } from '../lib/errors.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

/** Options every gateway plugin accepts: a ready config, or the environment to read it from. */
export interface GatewayOptions {
  config?: Config
  env?: Record<string, string | undefined>
  /** Print a ConfigError as one line and exit 1 instead of throwing (set by `fastify start -o`). */
  exitOnConfigError?: boolean
  /**
   * Write the request line straight to the logger's stream (set by createServer, whose logger it
   * made): the same line as `request.log.info` would write, for less work.
   */
  directRequestLog?: boolean
}

/**
 * Runs a start-up step; a ConfigError exits with one line when the options ask for it (under
 * `fastify start` a thrown error would end as an unhandled rejection and its dump), else throws.
 */
export function configStep<T> (opts: GatewayOptions, step: () => T): T {
  try {
    return step()
  } catch (err) {
    if (err instanceof ConfigError && opts.exitOnConfigError === true) {
      process.stderr.write(`mcp-gateway: ${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
}

/** Validates the environment once, decorates `fastify.config`, and warns once about weaker defaults. */
async function configPlugin (fastify: FastifyInstance, opts: GatewayOptions): Promise<void> {
  const config = opts.config ?? configStep(opts, () => loadConfig(opts.env ?? process.env))
  fastify.decorate('config', config)
  for (const warning of configWarnings(config)) fastify.log.warn(warning)
}

export default fp(configPlugin, { name: 'config', fastify: '5.x' })
