import { parseArgs } from 'node:util'
import { createServer } from './app.ts'
import { backlogWarning, kernelBacklogCap } from './lib/backlog.ts'
import { loadConfig } from './lib/config.ts'
import type { Config } from './lib/config.ts'
import { ConfigError } from './lib/errors.ts'
import { pinTickObjectShape } from './lib/tick-shape.ts'
import { tuneV8 } from './lib/v8-flags.ts'

const HELP = `Usage: npm start -- [options]

Runs the Ragie MCP gateway. Configuration comes from the environment (see env.example).

Options:
  -m, --mapping-file <path>  JSON file mapping organization ids to Ragie partitions
  -s, --strict-mapping       refuse organizations that are not in the mapping file (404)
  -h, --help                 show this help
`

/** Prints one line and exits non-zero: bad configuration never shows a stack trace. */
function fail (message: string): never {
  process.stderr.write(`mcp-gateway: ${message}\n`)
  process.exit(1)
}

function readArgs (): { env: Record<string, string | undefined> } {
  let parsed
  try {
    parsed = parseArgs({
      options: {
        'mapping-file': { type: 'string', short: 'm' },
        'strict-mapping': { type: 'boolean', short: 's' },
        help: { type: 'boolean', short: 'h' }
      },
      strict: true,
      allowPositionals: false
    })
  } catch (err) {
    fail(`${(err as Error).message} (see --help)`)
  }
  if (parsed.values.help === true) {
    process.stdout.write(HELP)
    process.exit(0)
  }
  const env = { ...process.env }
  if (parsed.values['mapping-file'] !== undefined) env.MAPPING_FILE = parsed.values['mapping-file']
  if (parsed.values['strict-mapping'] === true) env.STRICT_MAPPING = 'true'
  return { env }
}

async function main (): Promise<void> {
  const { env } = readArgs()
  // Before any load: see lib/v8-flags.ts (without them, a third of each request outlived a scavenge).
  tuneV8()
  // Before any load too: see lib/tick-shape.ts (without it, some processes ran 25% slower for good).
  pinTickObjectShape()
  let config: Config
  try {
    config = loadConfig(env)
  } catch (err) {
    fail((err as Error).message)
  }
  if (config.strictMapping && config.mappingFile === undefined) {
    fail('--strict-mapping needs a mapping file: pass --mapping-file <path> or set MAPPING_FILE')
  }

  const fastify = createServer(config, env)
  // SIGHUP reloads the mapping file (plugins/partitions.ts). Without one, before that plugin has
  // loaded (a start that waits on Redis), or once shutdown has taken its listener away, Node's
  // default would end the process on the spot, with no drain: a fleet-wide `kill -HUP` must
  // never do that. So this listener is in place before the start begins.
  process.on('SIGHUP', () => {
    if (config.mappingFile === undefined) fastify.log.info('SIGHUP: no mapping file to reload')
  })
  // In place before the start too: a SIGTERM while the start waits (on Redis, say) closes what has
  // started and exits 0, rather than Node's default, killed by the signal.
  let closing = false
  async function shutdown (signal: string): Promise<void> {
    if (closing) return
    closing = true
    fastify.log.info({ signal, graceSeconds: config.shutdownGraceSeconds }, 'shutting down')
    // Past the grace period and a margin, something is stuck: leave anyway, and say so.
    const deadline = setTimeout(() => {
      fastify.log.error('shutdown did not finish in time')
      process.exit(1)
    }, (config.shutdownGraceSeconds + 5) * 1000)
    deadline.unref()
    await fastify.close()
    process.exit(0)
  }
  process.on('SIGTERM', () => { shutdown('SIGTERM').catch(() => process.exit(1)) })
  process.on('SIGINT', () => { shutdown('SIGINT').catch(() => process.exit(1)) })
  try {
    // Node's default backlog (511) overflows in a connection storm (a deploy, a failover, many
    // clients opening event streams at once): the kernel then drops or resets the connections it
    // cannot queue. See LISTEN_BACKLOG in the README.
    await fastify.listen({ port: config.port, host: config.host, backlog: config.listenBacklog })
  } catch (err) {
    // Closed by a signal before it could listen: the shutdown says so, and exits.
    if (closing) return
    if (err instanceof ConfigError) fail(err.message)
    fail(`could not start: ${(err as Error).message}`)
  }
  const warning = backlogWarning(config.listenBacklog, kernelBacklogCap())
  if (warning !== undefined) fastify.log.warn(warning)
}

await main()
