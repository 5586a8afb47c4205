// The official MCP SDK client, signing in through the gateway's OAuth discovery on its own.
//   npm run sandbox                      (in one terminal)
//   node examples/oauth-client.ts [url]  (in another)
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'

type Fetch = typeof fetch

/**
 * Keeps the client registration and tokens in memory. Instead of opening a browser, it requests
 * the authorization URL itself: the sandbox signs its demo user in and answers with a 302 to the
 * redirect URI, from which the code is read (nothing needs to listen there).
 */
export class InMemoryOAuthProvider implements OAuthClientProvider {
  readonly redirectUrl = 'http://127.0.0.1:33418/callback'
  readonly clientMetadata: OAuthClientMetadata = {
    client_name: 'gateway example client',
    redirect_uris: [this.redirectUrl],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none'
  }

  /** Set to an https URL serving this client's metadata document to use CIMD instead of registration. */
  clientMetadataUrl?: string
  /** The code read off the last redirect, for `transport.finishAuth`. */
  authorizationCode?: string
  #fetch: Fetch
  #client?: OAuthClientInformationMixed
  #tokens?: OAuthTokens
  #verifier = ''
  #state = ''

  constructor (opts: { clientMetadataUrl?: string, fetch?: Fetch } = {}) {
    this.clientMetadataUrl = opts.clientMetadataUrl
    this.#fetch = opts.fetch ?? fetch
  }

  state (): string {
    this.#state = randomBytes(16).toString('base64url')
    return this.#state
  }

  clientInformation (): OAuthClientInformationMixed | undefined { return this.#client }
  saveClientInformation (info: OAuthClientInformationMixed): void { this.#client = info }
  tokens (): OAuthTokens | undefined { return this.#tokens }
  saveTokens (tokens: OAuthTokens): void { this.#tokens = tokens }
  saveCodeVerifier (verifier: string): void { this.#verifier = verifier }
  codeVerifier (): string { return this.#verifier }

  async redirectToAuthorization (url: URL): Promise<void> {
    const res = await this.#fetch(url, { redirect: 'manual' })
    const location = res.headers.get('location')
    if (res.status !== 302 || location === null) throw new Error(`the authorization server did not redirect back (${res.status})`)
    const back = new URL(location)
    if (back.searchParams.get('state') !== this.#state) throw new Error('the redirect carries another state')
    const error = back.searchParams.get('error')
    if (error !== null) throw new Error(`authorization failed: ${error} ${back.searchParams.get('error_description') ?? ''}`)
    this.authorizationCode = back.searchParams.get('code') ?? undefined
  }
}

/** Connects to `url`; on the first try the SDK discovers, registers and authorizes, then this trades the code and connects again. */
export async function connectWithOAuth (url: URL, provider: InMemoryOAuthProvider, fetchFn?: Fetch): Promise<Client> {
  const first = new Client({ name: 'gateway-example', version: '1.0.0' })
  try {
    await first.connect(new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: fetchFn }))
    return first
  } catch (err) {
    await first.close()
    if (!(err instanceof UnauthorizedError) || provider.authorizationCode === undefined) throw err
  }
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: fetchFn })
  await transport.finishAuth(provider.authorizationCode)
  provider.authorizationCode = undefined
  const client = new Client({ name: 'gateway-example', version: '1.0.0' })
  await client.connect(transport)
  return client
}

async function main (): Promise<void> {
  const url = new URL(process.argv[2] ?? 'http://127.0.0.1:3000/org_01SANDBOXACME000000000000/mcp')
  const client = await connectWithOAuth(url, new InMemoryOAuthProvider())
  const { tools } = await client.listTools()
  console.log('tools:', tools.map(t => t.name).join(', '))
  const result = await client.callTool({ name: 'retrieve', arguments: { query: 'how many vacation days do I have' } }, undefined, {
    onprogress: p => console.log(`progress ${p.progress}/${p.total ?? '?'} ${p.message ?? ''}`)
  })
  for (const item of result.content as Array<{ type: string, text?: string }>) console.log(item.text)
  await client.close()
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch(err => {
    console.error(`oauth-client: ${(err as Error).message}`)
    process.exit(1)
  })
}
