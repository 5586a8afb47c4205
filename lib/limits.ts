import { gatewayError } from './errors.ts'
import type { GatewayError } from './errors.ts'

export { BodyTooLargeError } from './body-watch.ts'

/** 413, and the connection closed: the rest of the body is never read. */
export function bodyTooLarge (limit: number): GatewayError {
  return gatewayError('GW_BODY_TOO_LARGE', `the request body may not be larger than ${limit} bytes`, { connection: 'close' })
}

/** True when a declared Content-Length is over the limit (or not a length at all). */
export function declaredTooLarge (contentLength: string | undefined, limit: number): boolean {
  if (contentLength === undefined) return false
  return !/^[0-9]{1,15}$/.test(contentLength) || Number(contentLength) > limit
}

/** Open long-lived streams per key (a user), bounded. */
export interface StreamQuota {
  /** Takes a slot and returns its release (safe to call twice), or null when the key holds `max` already. */
  acquire: (key: string) => (() => void) | null
  /** Slots a key holds now. */
  held: (key: string) => number
}

/** Creates a quota of `max` slots per key; 0 means no limit. */
export function createStreamQuota (max: number): StreamQuota {
  const counts = new Map<string, number>()
  return {
    acquire (key) {
      const held = counts.get(key) ?? 0
      if (max > 0 && held >= max) return null
      counts.set(key, held + 1)
      let released = false
      return () => {
        if (released) return
        released = true
        const left = (counts.get(key) ?? 1) - 1
        if (left === 0) counts.delete(key)
        else counts.set(key, left)
      }
    },
    held: key => counts.get(key) ?? 0
  }
}
