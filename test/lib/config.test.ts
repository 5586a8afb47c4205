import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../lib/config.ts'
import { ConfigError } from '../../lib/errors.ts'

const REQUIRED = {
  BASE_URL: 'https://mcp.example.com',
  RAGIE_API_KEY: 'ragie_key',
  RAGIE_MCP_SERVER_URL: 'https://api.ragie.ai',
  WORKOS_API_KEY: 'sk_test',
  WORKOS_AUTHORIZATION_SERVER_URL: 'https://acme.authkit.app',
  WORKOS_CLIENT_ID: 'client_01'
}

/** env.example as `cp env.example .env` gives it: every line `NAME=value`, empty ones included. */
function envExample (): Record<string, string> {
  const env: Record<string, string> = {}
  const text = readFileSync(join(import.meta.dirname, '..', '..', 'env.example'), 'utf8')
  for (const line of text.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)
    if (m !== null) env[m[1]] = m[2]
  }
  return env
}

t.test('env.example, with the required settings filled in, is a configuration that starts', async t => {
  const example = envExample()
  t.ok(Object.keys(example).length > 30, 'the file was read')
  const config = loadConfig({ ...example, ...REQUIRED })
  t.equal(config.resourceDocumentation, undefined, 'an empty optional URL is no URL')
  t.equal(config.baseUrl, 'https://mcp.example.com')
})

t.test('RESOURCE_DOCUMENTATION, when set, must be an http(s) URL', async t => {
  t.equal(loadConfig({ ...REQUIRED, RESOURCE_DOCUMENTATION: 'https://docs.example.com/mcp' }).resourceDocumentation, 'https://docs.example.com/mcp')
  t.throws(() => loadConfig({ ...REQUIRED, RESOURCE_DOCUMENTATION: 'docs' }), new ConfigError('RESOURCE_DOCUMENTATION must be an http(s) URL'))
})

t.test('CLOCK_TOLERANCE_SECONDS is at most 300: a larger value is no longer skew, it turns expiry off', async t => {
  t.equal(loadConfig({ ...REQUIRED, CLOCK_TOLERANCE_SECONDS: '300' }).clockToleranceSeconds, 300)
  t.throws(() => loadConfig({ ...REQUIRED, CLOCK_TOLERANCE_SECONDS: '5000' }), new ConfigError('CLOCK_TOLERANCE_SECONDS must be at most 300 seconds (it is in seconds, not ms)'))
})
