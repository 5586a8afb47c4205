import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { createServer } from '../app.ts'
import { loadConfig } from '../lib/config.ts'
import { startAuthKit } from '../test/fixtures/authkit.ts'
import type { AuthKitDouble, AuthKitOptions, AuthKitUser } from '../test/fixtures/authkit.ts'
import { startWorkOS } from '../test/fixtures/workos.ts'
import type { WorkOSDouble } from '../test/fixtures/workos.ts'
import { startUpstream } from '../test/fixtures/upstream.ts'
import type { McpUpstream } from '../test/fixtures/upstream.ts'
import { freePort } from '../test/fixtures/process.ts'
import { ALICE, DEMO_DOCUMENTS, DEMO_ORG, DEMO_USERS } from './demo.ts'

export interface SandboxOptions {
  /** The gateway's port; 0 picks a free one. Default 3000. */
  port?: number
  /** Who signs in: a user id, an email, the part of an email before '@', or 'pick'. Default: Alice. */
  user?: string
  /** The gateway's log level; 'silent' for tests. Default 'info'. */
  logLevel?: string
  /** Passed on to the AuthKit stand-in (a test's CA for CIMD, for example). */
  authkit?: AuthKitOptions
}

/** Everything the sandbox runs, for the entry to print and tests to look into. */
export interface Sandbox {
  baseUrl: string
  /** The URL MCP clients connect to. */
  mcpUrl: string
  org: typeof DEMO_ORG
  /** The user `/oauth2/authorize` signs in, or undefined with the picker. */
  signedIn: AuthKitUser | undefined
  authkit: AuthKitDouble
  workos: WorkOSDouble
  upstream: McpUpstream
  gateway: FastifyInstance
  close: () => Promise<void>
}

/** Thrown for a sandbox setting that cannot work; its message is one line for the terminal. */
export class SandboxError extends Error {}

// How often a free port is picked again when another process takes it first.
const FREE_PORT_ATTEMPTS = 5

function resolveUser (choice: string | undefined): AuthKitUser | 'pick' {
  if (choice === undefined || choice === '') return ALICE
  if (choice === 'pick') return 'pick'
  const wanted = choice.toLowerCase()
  const user = DEMO_USERS.find(u => u.id.toLowerCase() === wanted || u.email === wanted || u.email.split('@')[0] === wanted)
  if (user === undefined) throw new SandboxError(`SANDBOX_USER must be pick or one of ${DEMO_USERS.map(u => u.email).join(', ')}`)
  return user
}

/**
 * Starts the local stand-ins (AuthKit, WorkOS API, a demo Ragie) and the real gateway of `app.ts`
 * configured to use them, all on 127.0.0.1.
 */
export async function startSandbox (opts: SandboxOptions = {}): Promise<Sandbox> {
  const user = resolveUser(opts.user)
  const [authkit, workos, upstream] = await Promise.all([
    startAuthKit({ users: DEMO_USERS, signInAs: user === 'pick' ? 'pick' : user.id, allowLoopbackClientIds: true, ...opts.authkit }),
    startWorkOS(),
    startUpstream({ documents: DEMO_DOCUMENTS })
  ])
  const closeStandIns = () => Promise.all([authkit.close(), workos.close(), upstream.close()]).then(() => {})
  workos.addMembership({ userId: ALICE.id, organizationId: DEMO_ORG.id, status: 'active', role: 'member' })

  // The client checks that the protected resource metadata names the URL it connects to, so the
  // gateway's BASE_URL needs its real port before it starts. A free port is picked once the
  // stand-ins listen (before, one of them could be given the port just freed), and picked again
  // if another process takes it between the pick and the listen.
  const attempts = opts.port === 0 ? FREE_PORT_ATTEMPTS : 1
  for (let attempt = 1; ; attempt++) {
    const port = opts.port === undefined ? 3000 : opts.port === 0 ? await freePort() : opts.port
    const baseUrl = `http://127.0.0.1:${port}`
    const env: Record<string, string> = {
      BASE_URL: baseUrl,
      HOST: '127.0.0.1',
      PORT: String(port),
      RAGIE_API_KEY: 'sandbox_ragie_key',
      RAGIE_MCP_SERVER_URL: upstream.url,
      WORKOS_API_KEY: 'sk_sandbox_workos_key',
      WORKOS_AUTHORIZATION_SERVER_URL: authkit.issuer,
      WORKOS_CLIENT_ID: 'client_sandbox',
      WORKOS_API_URL: workos.url,
      MAPPING_FILE: join(import.meta.dirname, 'mapping.json'),
      LOG_LEVEL: opts.logLevel ?? 'info',
      // One process, one start: a fresh key is right, and says so instead of warning about it.
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      // Ctrl-C should not wait the production grace period for the Inspector's open stream.
      SHUTDOWN_GRACE_SECONDS: '1'
    }
    const config = loadConfig(env)
    const app = createServer(config, env, config.logLevel === 'silent' ? false : undefined)
    try {
      await app.listen({ port, host: '127.0.0.1' })
    } catch (err) {
      await app.close().catch(() => {})
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE' && attempt < attempts) continue
      await closeStandIns()
      throw new SandboxError(code === 'EADDRINUSE' ? `port ${port} is in use: set PORT to another one` : `could not start: ${(err as Error).message}`)
    }
    return {
      baseUrl,
      mcpUrl: `${baseUrl}/${DEMO_ORG.id}/mcp`,
      org: DEMO_ORG,
      signedIn: user === 'pick' ? undefined : user,
      authkit,
      workos,
      upstream,
      gateway: app,
      close: async () => {
        await app.close()
        await closeStandIns()
      }
    }
  }
}
