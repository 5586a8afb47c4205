import { watch } from 'node:fs'
import { basename, dirname } from 'node:path'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { changedOrgs, loadMappingFile, resolveTenant } from '../lib/mapping.ts'
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
  /** Reads the mapping file again; a file that is not valid keeps the current mapping. */
  reload: () => { ok: true, entries: number } | { ok: false, error: string }
  readonly strict: boolean
  readonly mapping: Mapping
}

/**
 * Loads the mapping file (if any) at start and decorates `fastify.partitions`. With a mapping
 * file, SIGHUP reloads it, and so does any change of it with MAPPING_WATCH: an invalid new file
 * keeps the old mapping, and the log says why.
 */
async function partitionsPlugin (fastify: FastifyInstance, opts: GatewayOptions): Promise<void> {
  const { mappingFile, strictMapping } = fastify.config
  const env = opts.env ?? process.env
  let mapping: Mapping = configStep(opts, () => {
    if (strictMapping && mappingFile === undefined) {
      throw new ConfigError('strict mapping needs a mapping file (--mapping-file or MAPPING_FILE)')
    }
    return mappingFile === undefined ? new Map() : loadMappingFile(mappingFile, env)
  })

  function reload (): { ok: true, entries: number } | { ok: false, error: string } {
    if (mappingFile === undefined) return { ok: false, error: 'no mapping file is configured' }
    const before = mapping
    try {
      mapping = loadMappingFile(mappingFile, env)
    } catch (err) {
      fastify.log.warn({ file: mappingFile, reason: (err as Error).message }, 'mapping file not reloaded: keeping the current mapping')
      return { ok: false, error: (err as Error).message }
    }
    // Open event streams of an organization whose route changed (removed in strict mode, another
    // partition or key, other roles) end cleanly: their reconnection meets the new mapping, as the
    // sessions bound to the old partition and key already do (404).
    const streams = fastify.upstream.streams.endForOrgs(changedOrgs(before, mapping, strictMapping))
    fastify.log.info({ file: mappingFile, entries: mapping.size, streamsEnded: streams }, 'mapping file reloaded')
    return { ok: true, entries: mapping.size }
  }

  fastify.decorate('partitions', {
    resolve: (org: string) => resolveTenant(mapping, org, strictMapping),
    reload,
    strict: strictMapping,
    get mapping () { return mapping }
  })

  if (mappingFile !== undefined) {
    const onHangup = (): void => { reload() }
    process.on('SIGHUP', onHangup)
    fastify.addHook('onClose', async () => { process.off('SIGHUP', onHangup) })
    if (fastify.config.mappingWatch) watchFile(fastify, mappingFile, reload)
  }
}

// Editors and config systems write a file in bursts (truncate, write, rename): one reload after.
const WATCH_DEBOUNCE_MS = 200

/**
 * Reloads on every change of the file. The folder is watched, not the file: a file replaced by a
 * rename (an editor's save, a Kubernetes ConfigMap's symlink swap) keeps being followed.
 */
function watchFile (fastify: FastifyInstance, file: string, reload: () => unknown): void {
  let timer: NodeJS.Timeout | undefined
  const watcher = watch(dirname(file), (_event, name) => {
    if (name !== null && name !== basename(file) && !name.startsWith('..')) return
    clearTimeout(timer)
    timer = setTimeout(reload, WATCH_DEBOUNCE_MS)
  })
  watcher.on('error', err => fastify.log.warn({ file, reason: err.message }, 'mapping file watch stopped'))
  fastify.addHook('onClose', async () => {
    clearTimeout(timer)
    watcher.close()
  })
}

export default fp(partitionsPlugin, { name: 'partitions', fastify: '5.x', dependencies: ['config', 'proxy'] })
