import { Redis } from 'ioredis'
import { settleWithin } from './deadline.ts'

export interface RedisLinkOptions {
  url: string
  /** Every key and channel the gateway uses starts with it, so several deployments can share a server. */
  keyPrefix: string
  /** A command that takes longer fails: a request is never held by a slow or half-dead Redis. */
  commandTimeoutMs: number
  /** Told once per change of state (down, back), never once per failed command. */
  onStateChange: (state: 'up' | 'down', reason?: string) => void
}

/** The two connections the gateway holds: one for commands, one subscribed to channels. */
export interface RedisLink {
  readonly client: Redis
  readonly subscriber: Redis
  readonly keyPrefix: string
  /** True while the command connection is ready. */
  readonly up: boolean
  /** Resolves once the command connection is ready, or after `ms` whatever its state. */
  waitUntilUp: (ms: number) => Promise<boolean>
  close: () => Promise<void>
}

// Reconnect for ever, backing off to two seconds: ioredis keeps trying, requests never wait on it.
function retryStrategy (times: number): number {
  return Math.min(times * 100, 2000)
}

/**
 * Connects to Redis with options that keep requests from hanging on it: no offline queue (a
 * command while disconnected fails at once), a command timeout, one attempt per command. The
 * subscriber keeps its queue, so its subscriptions are sent (again) as soon as it connects.
 */
export function createRedisLink (opts: RedisLinkOptions): RedisLink {
  const common = {
    retryStrategy,
    connectTimeout: Math.max(opts.commandTimeoutMs, 1000),
    lazyConnect: false
  }
  const client = new Redis(opts.url, {
    ...common,
    enableOfflineQueue: false,
    commandTimeout: opts.commandTimeoutMs,
    maxRetriesPerRequest: 0
  })
  const subscriber = new Redis(opts.url, { ...common, autoResubscribe: true, maxRetriesPerRequest: null })

  let up = false
  client.on('ready', () => {
    if (!up) opts.onStateChange('up')
    up = true
  })
  client.on('error', (err: Error) => {
    if (up) opts.onStateChange('down', err.message)
    up = false
  })
  client.on('close', () => {
    if (up) opts.onStateChange('down', 'connection closed')
    up = false
  })
  // Without a listener an error event would throw; the command connection already reports state.
  subscriber.on('error', () => {})

  return {
    client,
    subscriber,
    keyPrefix: opts.keyPrefix,
    get up () { return up },
    async waitUntilUp (ms) {
      if (up) return true
      await new Promise<void>(resolve => {
        const timer = setTimeout(done, ms)
        client.once('ready', done)
        function done (): void {
          clearTimeout(timer)
          client.off('ready', done)
          resolve()
        }
      })
      return up
    },
    async close () {
      // quit() waits for a reply, which never comes from a server that is gone or a connection a
      // NAT dropped (the subscriber has no command timeout): past the timeout, disconnect.
      await Promise.all([client, subscriber].map(async c => {
        if (c.status !== 'ready') return c.disconnect()
        await settleWithin(c.quit(), opts.commandTimeoutMs)
        c.disconnect()
      }))
    }
  }
}
