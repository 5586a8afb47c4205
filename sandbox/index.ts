// `npm run sandbox`: the real gateway against local stand-ins for AuthKit, the WorkOS API and Ragie.
// No account, no key, no network. PORT sets the gateway's port, SANDBOX_USER who signs in.
import { SandboxError, startSandbox } from './start.ts'
import type { Sandbox } from './start.ts'
import { DEMO_USERS } from './demo.ts'

function fail (message: string): never {
  process.stderr.write(`mcp-gateway sandbox: ${message}\n`)
  process.exit(1)
}

function readPort (value: string | undefined): number {
  if (value === undefined || value === '') return 3000
  const port = Number(value)
  if (!/^[0-9]{1,5}$/.test(value) || port > 65535) fail('PORT must be a port number from 0 to 65535')
  return port
}

function banner (s: Sandbox): string {
  const who = s.signedIn === undefined
    ? 'a sign-in page lets you pick the user'
    : `${s.signedIn.email}, without a page (SANDBOX_USER=${DEMO_USERS.find(u => u !== s.signedIn)?.email ?? 'pick'} or SANDBOX_USER=pick to change)`
  return `
Ragie MCP gateway sandbox: the real gateway, with local stand-ins for AuthKit, WorkOS and Ragie.

  MCP URL         ${s.mcpUrl}
  organization    ${s.org.id} (${s.org.name}, partition ${s.org.partition})
  users           ${DEMO_USERS.map(u => `${u.email} (${u.organizationId === s.org.id ? 'member' : 'not a member: gets 403'})`).join(', ')}
  signs in        ${who}
  AuthKit         ${s.authkit.issuer} (stand-in)
  WorkOS API      ${s.workos.url} (stand-in)
  Ragie MCP       ${s.upstream.url} (stand-in, tool: retrieve)

MCP Inspector:
  npx @modelcontextprotocol/inspector
  then Transport Type "Streamable HTTP", URL ${s.mcpUrl}, Connect
  (or "Open Auth Settings" > "Quick OAuth Flow" to watch each step)

Official TypeScript SDK client (examples/oauth-client.ts):
  node examples/oauth-client.ts ${s.mcpUrl}

Ctrl-C stops everything.
`
}

let sandbox: Sandbox
try {
  sandbox = await startSandbox({ port: readPort(process.env.PORT), user: process.env.SANDBOX_USER, logLevel: process.env.LOG_LEVEL ?? 'info' })
} catch (err) {
  fail(err instanceof SandboxError ? err.message : `could not start: ${(err as Error).message}`)
}
process.stdout.write(banner(sandbox))

let closing = false
async function stop (): Promise<void> {
  if (closing) return
  closing = true
  await sandbox.close()
  process.exit(0)
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => { stop().catch(() => process.exit(1)) })
}
