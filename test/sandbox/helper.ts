import { startSandbox } from '../../sandbox/start.ts'
import type { Sandbox, SandboxOptions } from '../../sandbox/start.ts'
import type { TestContext } from '../helper.ts'

/** The sandbox in this process, on a free port, silent, closed at the end of the test. */
export async function startTestSandbox (t: TestContext, opts: SandboxOptions = {}): Promise<Sandbox> {
  const sandbox = await startSandbox({ port: 0, logLevel: 'silent', ...opts })
  t.teardown(() => sandbox.close())
  return sandbox
}

/** One HTTP exchange a client made. */
export interface Exchange {
  method: string
  url: URL
  status: number
  body: string
}

/** A fetch that records every exchange, so a test can check each step of the OAuth flow. */
export function recordingFetch (): { fetch: typeof fetch, log: Exchange[] } {
  const log: Exchange[] = []
  const recording: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    const res = await fetch(input, init)
    log.push({ method: init?.method ?? 'GET', url, status: res.status, body: init?.body instanceof URLSearchParams || typeof init?.body === 'string' ? String(init.body) : '' })
    return res
  }
  return { fetch: recording, log }
}

/** The claims of a JWT, unverified: the gateway has already checked it when this is read. */
export function claims (jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>
}

/** The text items of a tool result. */
export function texts (result: unknown): string[] {
  return ((result as { content: Array<{ text: string }> }).content).map(c => c.text)
}
