import { readFileSync } from 'node:fs'
import { Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ConfigError } from './errors.ts'
import { ORG_PATTERN } from './paths.ts'

export const PARTITION_PATTERN = /^[a-z0-9_-]{1,64}$/
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/

const EntrySchema = Type.Union([
  Type.String(),
  Type.Object({
    partition: Type.String(),
    apiKeyEnv: Type.Optional(Type.String()),
    allowedRoles: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }))
  }, { additionalProperties: false })
])

/** Where one organization goes: its partition, its own Ragie key if any, the roles it admits. */
export interface TenantRoute {
  partition: string
  apiKey: string | undefined
  allowedRoles: readonly string[] | undefined
}

/** Organization id → route; a Map, so no look-up ever sees a prototype property. */
export type Mapping = ReadonlyMap<string, TenantRoute>

/** Reads and validates a mapping file; any problem is a ConfigError naming the file and the entry. */
export function loadMappingFile (file: string, env: Record<string, string | undefined>): Mapping {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read'
    throw new ConfigError(`mapping file ${file} ${reason}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new ConfigError(`mapping file ${file} is not valid JSON`)
  }
  try {
    return parseMapping(json, env)
  } catch (err) {
    throw new ConfigError(`mapping file ${file}: ${(err as Error).message}`)
  }
}

/** Validates a parsed mapping document (flat or object form). */
export function parseMapping (json: unknown, env: Record<string, string | undefined>): Mapping {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigError('must be a JSON object of organization id to partition')
  }
  const mapping = new Map<string, TenantRoute>()
  for (const [org, entry] of Object.entries(json)) {
    if (!ORG_PATTERN.test(org)) throw new ConfigError(`entry "${org}": key must be an organization id like org_01ABC`)
    if (!Value.Check(EntrySchema, entry)) {
      throw new ConfigError(`entry "${org}": must be a partition name or { partition, apiKeyEnv?, allowedRoles? }`)
    }
    const route = typeof entry === 'string' ? { partition: entry } : entry
    if (!PARTITION_PATTERN.test(route.partition)) {
      throw new ConfigError(`entry "${org}": partition "${route.partition}" must match ${PARTITION_PATTERN.source}`)
    }
    let apiKey: string | undefined
    if ('apiKeyEnv' in route && route.apiKeyEnv !== undefined) {
      if (!ENV_NAME_PATTERN.test(route.apiKeyEnv)) throw new ConfigError(`entry "${org}": apiKeyEnv must be an environment variable name`)
      // Own variables only: "constructor" or "__proto__" must read as unset, not as Object's.
      const value = Object.hasOwn(env, route.apiKeyEnv) ? env[route.apiKeyEnv] : undefined
      apiKey = typeof value === 'string' ? value.trim() : undefined
      if (apiKey === undefined || apiKey === '') throw new ConfigError(`entry "${org}": environment variable ${route.apiKeyEnv} (apiKeyEnv) is not set`)
      // As RAGIE_API_KEY: a key with a space or a line break inside cannot be a header value.
      if (/\s/.test(apiKey)) throw new ConfigError(`entry "${org}": environment variable ${route.apiKeyEnv} (apiKeyEnv) must be a key without spaces`)
    }
    const allowedRoles = 'allowedRoles' in route ? route.allowedRoles : undefined
    mapping.set(org, Object.freeze({ partition: route.partition, apiKey, allowedRoles }))
  }
  return mapping
}

/**
 * The route for an organization: its mapping entry, else (non-strict) the id lower-cased as the
 * partition, else null: strict mode and no entry.
 */
export function resolveTenant (mapping: Mapping, org: string, strict: boolean): TenantRoute | null {
  const route = mapping.get(org)
  if (route !== undefined) return route
  if (strict) return null
  return { partition: org.toLowerCase(), apiKey: undefined, allowedRoles: undefined }
}

/**
 * True when an organization's route differs between two mappings: gone (strict), another
 * partition, another key, or other roles admitted. Its open streams then end (plugins/partitions.ts).
 */
export function routeChanged (before: Mapping, after: Mapping, org: string, strict: boolean): boolean {
  const a = resolveTenant(before, org, strict)
  const b = resolveTenant(after, org, strict)
  if (a === null || b === null) return a !== b
  return a.partition !== b.partition || a.apiKey !== b.apiKey || !sameRoles(a.allowedRoles, b.allowedRoles)
}

function sameRoles (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return a.length === b.length && a.every(role => b.includes(role)) && b.every(role => a.includes(role))
}

/** The organizations whose route differs between two mappings (see routeChanged). */
export function changedOrgs (before: Mapping, after: Mapping, strict: boolean): string[] {
  return [...new Set([...before.keys(), ...after.keys()])].filter(org => routeChanged(before, after, org, strict))
}
