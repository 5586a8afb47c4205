import { Type } from '@sinclair/typebox'
import type { Static, TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ConfigError } from './errors.ts'

const url = (description: string) => Type.String({ pattern: '^https?://[^\\s]+$', description })
// An optional URL: unset or empty (as env.example leaves it) is none.
const optionalUrl = (description: string) => Type.String({ pattern: '^(https?://\\S+)?$', description })
const secret = (description: string) => Type.String({ minLength: 1, pattern: '^\\S+$', description })
const integer = (description: string) => Type.String({ pattern: '^[0-9]{1,9}$', description })
const positive = (description: string) => Type.String({ pattern: '^[1-9][0-9]{0,8}$', description })
const flag = (description: string) => Type.String({ pattern: '^(true|false|1|0|yes|no|)$', description })
const list = (description: string) => Type.String({ pattern: '^[^\\s]*( *, *[^\\s,]+)*$', description })

/** The environment the gateway reads, as strings: every variable, with what a good value looks like. */
export const EnvSchema = Type.Object({
  BASE_URL: url('an http(s) URL such as https://mcp.example.com'),
  RAGIE_API_KEY: secret('a non-empty key without spaces'),
  RAGIE_MCP_SERVER_URL: url('an http(s) URL such as https://api.ragie.ai'),
  WORKOS_API_KEY: secret('a non-empty key without spaces'),
  WORKOS_AUTHORIZATION_SERVER_URL: url('the AuthKit issuer URL, such as https://acme.authkit.app'),
  WORKOS_CLIENT_ID: secret('a non-empty client id without spaces'),
  WORKOS_API_URL: Type.Optional(url('an http(s) URL such as https://api.workos.com')),
  PORT: Type.Optional(Type.String({ pattern: '^([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$', description: 'a port number from 0 to 65535' })),
  HOST: Type.Optional(Type.String({ minLength: 1, description: 'a host name or address' })),
  LISTEN_BACKLOG: Type.Optional(positive('a positive whole number of connections')),
  LOG_LEVEL: Type.Optional(Type.String({ pattern: '^(trace|debug|info|warn|error|fatal|silent)$', description: 'one of debug, info, warn, error, silent' })),
  NODE_ENV: Type.Optional(Type.String()),
  MAPPING_FILE: Type.Optional(Type.String({ description: 'a path to a JSON file' })),
  STRICT_MAPPING: Type.Optional(flag('true or false')),
  EXTRA_AUDIENCES: Type.Optional(list('a comma-separated list of audiences')),
  CLOCK_TOLERANCE_SECONDS: Type.Optional(integer('a whole number of seconds')),
  JWKS_TIMEOUT_MS: Type.Optional(positive('a positive whole number of milliseconds')),
  JWKS_CACHE_TTL_SECONDS: Type.Optional(positive('a positive whole number of seconds (0 would fetch from AuthKit on every request)')),
  JWKS_REFETCH_COOLDOWN_SECONDS: Type.Optional(integer('a whole number of seconds')),
  MEMBERSHIP_TTL_SECONDS: Type.Optional(integer('a whole number of seconds')),
  MEMBERSHIP_NEGATIVE_TTL_SECONDS: Type.Optional(integer('a whole number of seconds')),
  MEMBERSHIP_CACHE_MAX: Type.Optional(positive('a positive whole number of entries')),
  MEMBERSHIP_LOOKUPS_PER_USER_PER_MIN: Type.Optional(integer('a whole number of look-ups per minute (0: no limit)')),
  WORKOS_TIMEOUT_MS: Type.Optional(positive('a positive whole number of milliseconds')),
  WORKOS_MAX_RETRIES: Type.Optional(integer('a whole number')),
  METADATA_TIMEOUT_MS: Type.Optional(positive('a positive whole number of milliseconds')),
  METADATA_CACHE_SECONDS: Type.Optional(positive('a positive whole number of seconds (0 would fetch from AuthKit on every request)')),
  UPSTREAM_CONNECT_TIMEOUT_MS: Type.Optional(positive('a positive whole number of milliseconds')),
  UPSTREAM_HEADERS_TIMEOUT_MS: Type.Optional(positive('a positive whole number of milliseconds')),
  SHUTDOWN_GRACE_SECONDS: Type.Optional(integer('a whole number of seconds')),
  RETRY_AFTER_SECONDS: Type.Optional(positive('a positive whole number of seconds')),
  ALLOWED_ORIGINS: Type.Optional(list('a comma-separated list of origins such as https://app.example.com')),
  TRUST_PROXY: Type.Optional(flag('true or false')),
  RESOURCE_NAME: Type.Optional(Type.String({ minLength: 1, description: 'a display name' })),
  RESOURCE_DOCUMENTATION: Type.Optional(optionalUrl('an http(s) URL')),
  SCOPES_SUPPORTED: Type.Optional(list('a comma-separated list of scopes')),
  SESSION_SECRET: Type.Optional(Type.String({ pattern: '^(\\S{32,})?$', description: 'at least 32 characters without spaces, e.g. the output of openssl rand -base64 32' })),
  SESSION_SECRET_PREVIOUS: Type.Optional(Type.String({ pattern: '^(\\S{32,})?$', description: 'at least 32 characters without spaces: the SESSION_SECRET being replaced' })),
  BODY_LIMIT: Type.Optional(positive('a positive whole number of bytes')),
  SSE_KEEPALIVE: Type.Optional(integer('a whole number of seconds (0: no keep-alive)')),
  SSE_IDLE_TIMEOUT: Type.Optional(integer('a whole number of seconds (0: no idle limit)')),
  MAX_STREAMS_PER_USER: Type.Optional(integer('a whole number of streams (0: no limit)')),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^(rediss?://\\S+)?$', description: 'a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0' })),
  REDIS_KEY_PREFIX: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9:_.-]{1,64}$', description: 'letters, digits and : _ . - (at most 64)' })),
  REDIS_TIMEOUT_MS: Type.Optional(positive('a positive whole number of milliseconds')),
  WORKOS_WEBHOOK_SECRET: Type.Optional(Type.String({ pattern: '^(\\S+)?$', description: 'the webhook endpoint\'s secret from the WorkOS dashboard, without spaces' })),
  RATE_LIMIT_USER_PER_MIN: Type.Optional(integer('a whole number of requests per minute (0: no limit)')),
  RATE_LIMIT_ORG_PER_MIN: Type.Optional(integer('a whole number of requests per minute (0: no limit)')),
  METRICS_PORT: Type.Optional(Type.String({ pattern: '^(|[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$', description: 'a port number from 0 to 65535' })),
  METRICS_HOST: Type.Optional(Type.String({ pattern: '^\\S*$', description: 'a host name or address' })),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(optionalUrl('an http(s) URL of an OTLP/HTTP collector such as http://127.0.0.1:4318')),
  OTEL_SERVICE_NAME: Type.Optional(Type.String({ pattern: '^\\S*$', description: 'a service name without spaces' })),
  MAPPING_WATCH: Type.Optional(flag('true or false'))
})

export type Env = Static<typeof EnvSchema>

/** The validated configuration every plugin reads. */
export interface Config {
  baseUrl: string
  ragieApiKey: string
  upstreamOrigin: string
  upstreamPathPrefix: string
  workosApiKey: string
  workosApiUrl: string
  issuer: string
  jwksUrl: string
  clientId: string
  extraAudiences: string[]
  port: number
  host: string
  listenBacklog: number
  logLevel: string
  production: boolean
  mappingFile: string | undefined
  strictMapping: boolean
  clockToleranceSeconds: number
  jwksTimeoutMs: number
  jwksCacheTtlSeconds: number
  jwksRefetchCooldownSeconds: number
  membershipTtlSeconds: number
  membershipNegativeTtlSeconds: number
  membershipCacheMax: number
  membershipLookupsPerUserPerMin: number
  workosTimeoutMs: number
  workosMaxRetries: number
  metadataTimeoutMs: number
  metadataCacheSeconds: number
  upstreamConnectTimeoutMs: number
  upstreamHeadersTimeoutMs: number
  shutdownGraceSeconds: number
  retryAfterSeconds: number
  allowedOrigins: string[]
  trustProxy: boolean
  resourceName: string
  resourceDocumentation: string | undefined
  scopesSupported: string[]
  sessionSecret: string | undefined
  /** The secret being replaced: ids bound with it are still accepted (and re-bound with the new one). */
  sessionSecretPrevious: string | undefined
  bodyLimit: number
  sseKeepAliveSeconds: number
  sseIdleTimeoutSeconds: number
  maxStreamsPerUser: number
  redisUrl: string | undefined
  redisKeyPrefix: string
  redisTimeoutMs: number
  workosWebhookSecret: string | undefined
  rateLimitUserPerMin: number
  rateLimitOrgPerMin: number
  metricsPort: number | undefined
  metricsHost: string
  otelEndpoint: string | undefined
  otelServiceName: string
  mappingWatch: boolean
}

// Settings that become timers: Node's take at most 2^31 - 1 ms (24.8 days), and fire after 1 ms
// past it, so SSE_IDLE_TIMEOUT=9999999 would end every stream at once, SSE_KEEPALIVE would ping
// every millisecond and SHUTDOWN_GRACE_SECONDS would cut the drain short.
const TIMER_SECONDS = ['SSE_KEEPALIVE', 'SSE_IDLE_TIMEOUT', 'SHUTDOWN_GRACE_SECONDS'] as const
const MAX_TIMER_SECONDS = 2_000_000
// lru-cache allocates its slots up front: 10^8 would be gigabytes, and an out-of-memory crash
// rather than one clear line.
const MAX_MEMBERSHIP_CACHE = 1_000_000
// Clock skew forgiven on exp, nbf and iat. More than a few minutes is no longer skew: 5000 (meant
// as ms) would accept an expired token for 83 minutes, and a huge value would turn expiry off.
const MAX_CLOCK_TOLERANCE = 300

function checkBounds (e: Partial<Record<string, string>>): void {
  for (const name of TIMER_SECONDS) {
    if (Number(e[name] ?? 0) > MAX_TIMER_SECONDS) throw new ConfigError(`${name} must be at most ${MAX_TIMER_SECONDS} seconds (23 days)`)
  }
  if (Number(e.MEMBERSHIP_CACHE_MAX ?? 0) > MAX_MEMBERSHIP_CACHE) throw new ConfigError(`MEMBERSHIP_CACHE_MAX must be at most ${MAX_MEMBERSHIP_CACHE} entries`)
  if (Number(e.CLOCK_TOLERANCE_SECONDS ?? 0) > MAX_CLOCK_TOLERANCE) throw new ConfigError(`CLOCK_TOLERANCE_SECONDS must be at most ${MAX_CLOCK_TOLERANCE} seconds (it is in seconds, not ms)`)
}

/** Reads and validates the environment; throws a ConfigError naming the first bad variable. */
export function loadConfig (env: Record<string, string | undefined>): Config {
  const raw = pickEnv(env)
  const first = Value.Errors(EnvSchema, raw).First()
  if (first !== undefined) {
    const name = first.path.slice(1)
    if (raw[name] === undefined) throw new ConfigError(`${name} is required`)
    const description = (EnvSchema.properties as Record<string, TSchema>)[name]?.description ?? 'valid'
    throw new ConfigError(`${name} must be ${description}`)
  }
  const e = raw as Env
  checkBounds(e)
  if ((e.SESSION_SECRET_PREVIOUS ?? '') !== '' && (e.SESSION_SECRET ?? '') === '') throw new ConfigError('SESSION_SECRET_PREVIOUS needs SESSION_SECRET (the new secret) set too')
  const upstream = parseUrl('RAGIE_MCP_SERVER_URL', e.RAGIE_MCP_SERVER_URL, true)
  const issuer = trimSlash(parseUrl('WORKOS_AUTHORIZATION_SERVER_URL', e.WORKOS_AUTHORIZATION_SERVER_URL, true).href)
  const baseUrl = parseUrl('BASE_URL', e.BASE_URL, false)
  return {
    baseUrl: baseUrl.origin,
    ragieApiKey: e.RAGIE_API_KEY,
    upstreamOrigin: upstream.origin,
    upstreamPathPrefix: trimSlash(upstream.pathname),
    workosApiKey: e.WORKOS_API_KEY,
    workosApiUrl: parseUrl('WORKOS_API_URL', e.WORKOS_API_URL ?? 'https://api.workos.com', false).origin,
    issuer,
    jwksUrl: `${issuer}/oauth2/jwks`,
    clientId: e.WORKOS_CLIENT_ID,
    extraAudiences: splitList(e.EXTRA_AUDIENCES),
    port: Number(e.PORT ?? 3000),
    host: e.HOST ?? '0.0.0.0',
    listenBacklog: Number(e.LISTEN_BACKLOG ?? 4096),
    logLevel: e.LOG_LEVEL ?? 'info',
    production: e.NODE_ENV === 'production',
    mappingFile: e.MAPPING_FILE === '' ? undefined : e.MAPPING_FILE,
    strictMapping: isTrue(e.STRICT_MAPPING),
    clockToleranceSeconds: Number(e.CLOCK_TOLERANCE_SECONDS ?? 5),
    jwksTimeoutMs: Number(e.JWKS_TIMEOUT_MS ?? 3000),
    jwksCacheTtlSeconds: Number(e.JWKS_CACHE_TTL_SECONDS ?? 600),
    jwksRefetchCooldownSeconds: Number(e.JWKS_REFETCH_COOLDOWN_SECONDS ?? 30),
    membershipTtlSeconds: Number(e.MEMBERSHIP_TTL_SECONDS ?? 60),
    membershipNegativeTtlSeconds: Number(e.MEMBERSHIP_NEGATIVE_TTL_SECONDS ?? 10),
    membershipCacheMax: Number(e.MEMBERSHIP_CACHE_MAX ?? 10000),
    membershipLookupsPerUserPerMin: Number(e.MEMBERSHIP_LOOKUPS_PER_USER_PER_MIN ?? 120),
    workosTimeoutMs: Number(e.WORKOS_TIMEOUT_MS ?? 3000),
    workosMaxRetries: Number(e.WORKOS_MAX_RETRIES ?? 0),
    metadataTimeoutMs: Number(e.METADATA_TIMEOUT_MS ?? 3000),
    metadataCacheSeconds: Number(e.METADATA_CACHE_SECONDS ?? 300),
    upstreamConnectTimeoutMs: Number(e.UPSTREAM_CONNECT_TIMEOUT_MS ?? 5000),
    upstreamHeadersTimeoutMs: Number(e.UPSTREAM_HEADERS_TIMEOUT_MS ?? 60000),
    shutdownGraceSeconds: Number(e.SHUTDOWN_GRACE_SECONDS ?? 10),
    retryAfterSeconds: Number(e.RETRY_AFTER_SECONDS ?? 5),
    allowedOrigins: splitList(e.ALLOWED_ORIGINS).map(o => parseUrl('ALLOWED_ORIGINS', o, false).origin),
    trustProxy: isTrue(e.TRUST_PROXY),
    resourceName: e.RESOURCE_NAME ?? 'Ragie MCP',
    resourceDocumentation: e.RESOURCE_DOCUMENTATION === '' ? undefined : e.RESOURCE_DOCUMENTATION,
    scopesSupported: splitList(e.SCOPES_SUPPORTED),
    sessionSecret: e.SESSION_SECRET === '' ? undefined : e.SESSION_SECRET,
    sessionSecretPrevious: e.SESSION_SECRET_PREVIOUS === '' ? undefined : e.SESSION_SECRET_PREVIOUS,
    bodyLimit: Number(e.BODY_LIMIT ?? 4 * 1024 * 1024),
    sseKeepAliveSeconds: Number(e.SSE_KEEPALIVE ?? 25),
    sseIdleTimeoutSeconds: Number(e.SSE_IDLE_TIMEOUT ?? 300),
    maxStreamsPerUser: Number(e.MAX_STREAMS_PER_USER ?? 10),
    redisUrl: e.REDIS_URL === '' ? undefined : e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX ?? 'mcp-gateway:',
    redisTimeoutMs: Number(e.REDIS_TIMEOUT_MS ?? 500),
    workosWebhookSecret: e.WORKOS_WEBHOOK_SECRET === '' ? undefined : e.WORKOS_WEBHOOK_SECRET,
    rateLimitUserPerMin: Number(e.RATE_LIMIT_USER_PER_MIN ?? 0),
    rateLimitOrgPerMin: Number(e.RATE_LIMIT_ORG_PER_MIN ?? 0),
    metricsPort: e.METRICS_PORT === undefined || e.METRICS_PORT === '' ? undefined : Number(e.METRICS_PORT),
    metricsHost: e.METRICS_HOST === undefined || e.METRICS_HOST === '' ? (e.HOST ?? '0.0.0.0') : e.METRICS_HOST,
    otelEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT === undefined || e.OTEL_EXPORTER_OTLP_ENDPOINT === '' ? undefined : trimSlash(e.OTEL_EXPORTER_OTLP_ENDPOINT),
    otelServiceName: e.OTEL_SERVICE_NAME === undefined || e.OTEL_SERVICE_NAME === '' ? 'mcp-gateway' : e.OTEL_SERVICE_NAME,
    mappingWatch: isTrue(e.MAPPING_WATCH)
  }
}

/** Safe-but-weaker defaults an operator should know about: one line each, logged once at start. */
export function configWarnings (config: Config): string[] {
  const warnings: string[] = []
  if (config.allowedOrigins.length === 0) {
    warnings.push('ALLOWED_ORIGINS is not set: any Origin may call the tenant routes (auth is bearer-only, so this is safe; set it to refuse unknown browser origins)')
  }
  if (config.sessionSecret === undefined) {
    warnings.push('SESSION_SECRET is not set: session ids are bound with a random key for this process only; set the same SESSION_SECRET on every instance when several run')
  }
  return warnings
}

function pickEnv (env: Record<string, string | undefined>): Record<string, string> {
  const raw: Record<string, string> = {}
  for (const name of Object.keys(EnvSchema.properties)) {
    const value = env[name]
    if (value !== undefined) raw[name] = value.trim()
  }
  return raw
}

function parseUrl (name: string, value: string, pathAllowed: boolean): URL {
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    throw new ConfigError(`${name} must be a valid URL`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`${name} must use http or https`)
  if (parsed.username !== '' || parsed.password !== '') throw new ConfigError(`${name} must not hold credentials`)
  if (parsed.search !== '' || parsed.hash !== '') throw new ConfigError(`${name} must not have a query or fragment`)
  if (!pathAllowed && parsed.pathname !== '/') throw new ConfigError(`${name} must be http(s)://host[:port] with no path`)
  return parsed
}

function trimSlash (value: string): string {
  return value.replace(/\/+$/, '')
}

function splitList (value: string | undefined): string[] {
  if (value === undefined) return []
  return value.split(',').map(s => s.trim()).filter(s => s.length > 0)
}

function isTrue (value: string | undefined): boolean {
  return value === 'true' || value === '1' || value === 'yes'
}
