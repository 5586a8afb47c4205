import { join } from 'node:path'
import { Writable } from 'node:stream'
import helper from 'fastify-cli/helper.js'
import type { FastifyInstance } from 'fastify'
import { startAuthKit } from './fixtures/authkit.ts'
import type { AuthKitDouble, SignOptions } from './fixtures/authkit.ts'
import { startWorkOS } from './fixtures/workos.ts'
import type { WorkOSDouble } from './fixtures/workos.ts'
import { startUpstream } from './fixtures/upstream.ts'
import type { McpUpstream } from './fixtures/upstream.ts'

export const APP_PATH = join(import.meta.dirname, '..', 'app.ts')
export const ROOT = join(import.meta.dirname, '..')

/** The smallest view of a tap test this helper needs. */
export interface TestContext {
  teardown: (fn: () => unknown) => void
}

export const ORG = 'org_01K8BHJC61A42KN38TB98HZHTQ'
export const OTHER_ORG = 'org_01OTHERORG000000000000000'
export const MEMBER = 'user_01MEMBER0000000000000000'
export const STRANGER = 'user_01STRANGER00000000000000'
export const CLIENT_ID = 'client_01TESTCLIENT'
export const BASE_URL = 'https://mcp.gateway.test'
export const RAGIE_KEY = 'ragie_test_key_do_not_leak'
export const WORKOS_KEY = 'sk_test_workos_do_not_leak'

/** The local stand-ins every integration test runs against. */
export interface Fixtures {
  authkit: AuthKitDouble
  workos: WorkOSDouble
  upstream: McpUpstream
  env: Record<string, string>
  /** A valid AuthKit access token for `sub`, with `overrides` merged into its claims. */
  token: (sub?: string, overrides?: Record<string, unknown>, opts?: SignOptions) => string
}

/** Starts AuthKit, WorkOS and the MCP upstream on 127.0.0.1; MEMBER is an active member of ORG. */
export async function startFixtures (t: TestContext): Promise<Fixtures> {
  const [authkit, workos, upstream] = await Promise.all([startAuthKit(), startWorkOS(), startUpstream()])
  t.teardown(() => Promise.all([authkit.close(), workos.close(), upstream.close()]))
  workos.addMembership({ userId: MEMBER, organizationId: ORG, status: 'active', role: 'member' })
  const env: Record<string, string> = {
    BASE_URL,
    RAGIE_API_KEY: RAGIE_KEY,
    RAGIE_MCP_SERVER_URL: upstream.url,
    WORKOS_API_KEY: WORKOS_KEY,
    WORKOS_AUTHORIZATION_SERVER_URL: authkit.issuer,
    WORKOS_CLIENT_ID: CLIENT_ID,
    WORKOS_API_URL: workos.url,
    LOG_LEVEL: 'silent',
    NODE_ENV: 'production'
  }
  function token (sub = MEMBER, overrides: Record<string, unknown> = {}, opts?: SignOptions): string {
    const now = Math.floor(Date.now() / 1000)
    const claims: Record<string, unknown> = { iss: authkit.issuer, sub, aud: CLIENT_ID, iat: now, exp: now + 300, sid: 'session_1', jti: `jti_${now}_${Math.random()}`, ...overrides }
    for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k]
    return authkit.sign(claims, opts)
  }
  return { authkit, workos, upstream, env, token }
}

/**
 * Builds the app the way `fastify start -o app.ts` does, with `env` as its environment; a bad
 * configuration rejects instead of exiting the test process.
 */
export async function build (t: TestContext, env: Record<string, string | undefined>, serverOptions: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = await helper.build([APP_PATH, '-o'], { env, exitOnConfigError: false }, serverOptions) as FastifyInstance
  t.teardown(() => app.close())
  return app
}

/** A logger stream that keeps every line, to check what the gateway logs. */
export function captureLogs (): { stream: Writable, lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({
    write (chunk, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean))
      done()
    }
  })
  return { stream, lines }
}

/** Upstream requests that reached any path, for "nothing reached Ragie" assertions. */
export function upstreamCount (f: Fixtures): number {
  return f.upstream.requests.length
}
