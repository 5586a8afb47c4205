import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { loadMappingFile, resolveTenant } from '../lib/mapping.ts'
import type { Mapping, TenantRoute } from '../lib/mapping.ts'
import { ConfigError } from '../lib/errors.ts'
import { configStep } from './config.ts'
import type { GatewayOptions } from './config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    partitions: Partitions
  }
}

export interface Partitions {
  /** The route of an organization, or null when strict mode has no entry for it. */
  resolve: (org: string) => TenantRoute | null
  readonly strict: boolean
  readonly mapping: Mapping
}

/** Loads the mapping file (if any) at start and decorates `fastify.partitions`. */
async function partitionsPlugin (fastify: FastifyInstance, opts: GatewayOptions): Promise<void> {
  const { mappingFile, strictMapping } = fastify.config
  const mapping: Mapping = configStep(opts, () => {
    if (strictMapping && mappingFile === undefined) {
      throw new ConfigError('strict mapping needs a mapping file (--mapping-file or MAPPING_FILE)')
    }
    return mappingFile === undefined ? new Map() : loadMappingFile(mappingFile, opts.env ?? process.env)
  })
  fastify.decorate('partitions', {
    resolve: (org: string) => resolveTenant(mapping, org, strictMapping),
    strict: strictMapping,
    mapping
  })
}

export default fp(partitionsPlugin, { name: 'partitions', fastify: '5.x', dependencies: ['config'] })
