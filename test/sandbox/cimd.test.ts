import t from 'tap'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { generate } from 'selfsigned'
import { InMemoryOAuthProvider, connectWithOAuth } from '../../examples/oauth-client.ts'
import { startAuthKit } from '../fixtures/authkit.ts'
import type { AuthKitDouble } from '../fixtures/authkit.ts'
import { ALICE, DEMO_ORG } from '../../sandbox/demo.ts'
import type { TestContext } from '../helper.ts'
import { claims, recordingFetch, startTestSandbox, texts } from './helper.ts'

interface DocumentHost {
  origin: string
  cert: string
  /** Documents served, by path. */
  documents: Map<string, unknown>
  fetched: string[]
}

/** An https server on 127.0.0.1 with a certificate generated for it, serving client metadata documents. */
async function startDocumentHost (t: TestContext): Promise<DocumentHost> {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }]
  })
  const documents = new Map<string, unknown>()
  const fetched: string[] = []
  const server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    fetched.push(req.url ?? '')
    const doc = documents.get(req.url ?? '')
    res.writeHead(doc === undefined ? 404 : 200, { 'content-type': 'application/json' })
    res.end(typeof doc === 'string' ? doc : JSON.stringify(doc ?? { error: 'not found' }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, cert: pems.cert, documents, fetched }
}

function clientDocument (clientId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const provider = new InMemoryOAuthProvider()
  return { ...provider.clientMetadata, client_id: clientId, ...extra }
}

/** Sends an authorization request for `clientId` as a browser would, without following the redirect. */
async function authorize (authkit: AuthKitDouble, clientId: string, redirectUri = new InMemoryOAuthProvider().redirectUrl): Promise<{ status: number, body: string, location: string | null }> {
  const url = new URL(`${authkit.issuer}/oauth2/authorize`)
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    state: 'xyz'
  }).toString()
  const res = await fetch(url, { redirect: 'manual' })
  return { status: res.status, body: await res.text(), location: res.headers.get('location') }
}

t.test('CIMD: a client whose id is an https metadata URL signs in without registering', async t => {
  const host = await startDocumentHost(t)
  const clientId = `${host.origin}/oauth/client.json`
  host.documents.set('/oauth/client.json', clientDocument(clientId))
  const sandbox = await startTestSandbox(t, { authkit: { clientMetadataCa: host.cert } })

  const { fetch, log } = recordingFetch()
  const provider = new InMemoryOAuthProvider({ fetch, clientMetadataUrl: clientId })
  const client = await connectWithOAuth(new URL(sandbox.mcpUrl), provider, fetch)
  t.teardown(() => client.close())

  t.equal(log.filter(e => e.url.pathname === '/oauth2/register').length, 0, 'no dynamic registration')
  const authorizeRequest = log.find(e => e.url.pathname === '/oauth2/authorize')
  t.equal(authorizeRequest?.url.searchParams.get('client_id'), clientId, 'the client id is the metadata URL')
  t.same(host.fetched, ['/oauth/client.json'], 'the stand-in fetched the document')
  t.equal(sandbox.authkit.clients.get(clientId)?.client_name, 'gateway example client', 'and read it')
  const c = claims(provider.tokens()?.access_token ?? '')
  t.equal(c.aud, sandbox.mcpUrl)
  t.equal(c.sub, ALICE.id)
  const result = await client.callTool({ name: 'whoami', arguments: {} })
  t.same(JSON.parse(texts(result)[0]), { partition: DEMO_ORG.partition })
})

t.test('CIMD: the stand-in checks the document and the URL before trusting them', async t => {
  const host = await startDocumentHost(t)
  const authkit = await startAuthKit({ users: [ALICE], allowLoopbackClientIds: true, clientMetadataCa: host.cert })
  t.teardown(() => authkit.close())
  const url = (path: string) => `${host.origin}${path}`

  host.documents.set('/good.json', clientDocument(url('/good.json')))
  const good = await authorize(authkit, url('/good.json'))
  t.equal(good.status, 302)
  t.match(good.location, /[?&]code=/, 'a well-formed document is accepted')

  const refused = async (name: string, clientId: string, pattern: RegExp, redirectUri?: string) => {
    const res = await authorize(authkit, clientId, redirectUri)
    t.equal(res.status, 400, `${name}: refused`)
    t.equal(res.location, null, `${name}: not redirected`)
    t.match(res.body, pattern, name)
  }
  host.documents.set('/other.json', clientDocument(url('/good.json')))
  await refused('a document naming another client_id', url('/other.json'), /another client_id/)
  await refused('a redirect_uri the document does not list', url('/good.json'), /redirect_uri is not registered/, 'https://evil.example/callback')
  host.documents.set('/secret.json', clientDocument(url('/secret.json'), { token_endpoint_auth_method: 'client_secret_basic' }))
  await refused('a document asking for a shared secret', url('/secret.json'), /shared secret/)
  host.documents.set('/broken.json', '{ not json')
  await refused('a document that is not JSON', url('/broken.json'), /not JSON/)
  host.documents.set('/big.json', clientDocument(url('/big.json'), { padding: 'x'.repeat(10_000) }))
  await refused('a document past 5 KB', url('/big.json'), /too large/)
  await refused('a document that is missing', url('/missing.json'), /answered 404/)
  await refused('a root URL', `${host.origin}/`, /must have a path/)
  await refused('a private address', 'https://10.0.0.1/client.json', /private address/)

  await t.test('without the test CA the certificate is not trusted: TLS is verified', async t => {
    const strict = await startAuthKit({ users: [ALICE], allowLoopbackClientIds: true })
    t.teardown(() => strict.close())
    const res = await authorize(strict, url('/good.json'))
    t.equal(res.status, 400)
    t.match(res.body, /could not be fetched/)
  })

  await t.test('outside the sandbox, loopback client ids are refused', async t => {
    const production = await startAuthKit({ users: [ALICE], clientMetadataCa: host.cert })
    t.teardown(() => production.close())
    const before = host.fetched.length
    const res = await authorize(production, url('/good.json'))
    t.equal(res.status, 400)
    t.match(res.body, /loopback/)
    t.equal(host.fetched.length, before, 'nothing was fetched')
  })
})
