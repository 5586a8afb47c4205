import { Transform } from 'node:stream'
import type { Readable } from 'node:stream'
import { createEventBoundary } from './sse.ts'

/** A comment frame: clients ignore it, proxies and load balancers see the stream is alive. */
export const PING = Buffer.from(': ping\n\n')

export interface StreamRegistryOptions {
  /** A ping after this long without a byte from upstream, repeated, only between events; 0: never. */
  keepAliveMs: number
  /** A clean end after this long without a byte from upstream; 0: never. */
  idleTimeoutMs: number
  /**
   * How long an ending by `endFor` or `endForOrgs` is remembered: a stream whose request came in
   * before it, but whose upstream answer comes only after (Ragie slow to answer, a membership
   * look-up still under way), is ended as it opens. Longer than a request can take to be answered.
   */
  rememberMs?: number
  /** The clock of `track`'s `admittedAt`, in ms (performance.now). */
  now?: () => number
}

/** How one stream is relayed. */
export interface TrackOptions {
  /**
   * false: no keep-alive pings, whatever the registry's `keepAliveMs`. For a stream whose bytes
   * the gateway cannot read as events (a compressed one): a ping is plain text, and inserted into
   * compressed bytes it would break the whole stream. Such a stream passes exactly as sent.
   */
  keepAlive?: boolean
}

/** Whose a stream is: the token's user, in the URL's organization. */
export interface StreamOwner {
  userId: string
  org: string
}

/**
 * The open event streams: kept alive with pings, ended when idle, ended cleanly on shutdown, and
 * ended when their user's membership is revoked.
 */
export interface StreamRegistry {
  /**
   * Wraps an upstream event stream: what the client is sent, and what the `end*` methods can end.
   * `admittedAt` (the `now` clock) is when its request came in: ended at once if the owner's
   * streams were ended since.
   */
  track: (upstream: Readable, owner: StreamOwner, admittedAt?: number, options?: TrackOptions) => Readable
  /**
   * Ends every open stream with a clean end of body (the client may reconnect elsewhere), and
   * every one admitted before now that opens later.
   */
  endAll: () => void
  /**
   * Ends, cleanly, the user's streams in `org` (every organization when undefined), open now or
   * admitted before now and opening later: the client's reconnection then meets the checks again.
   * Returns how many open ones it ended.
   */
  endFor: (userId: string, org?: string) => number
  /** The same for every stream of these organizations. */
  endForOrgs: (orgs: Iterable<string>) => number
  readonly size: number
}

interface OpenStream {
  end: () => void
  owner: StreamOwner
}

function ignore (): void {}

const ALL_ORGS = ''

/** Creates an empty registry. */
export function createStreamRegistry (opts: StreamRegistryOptions = { keepAliveMs: 0, idleTimeoutMs: 0 }): StreamRegistry {
  const open = new Map<Transform, OpenStream>()
  const now = opts.now ?? (() => performance.now())
  const rememberMs = opts.rememberMs ?? 10 * 60_000
  // When each user's streams (per organization, or ALL_ORGS) and each organization's were last
  // ended. Revocations and reloads are rare; what is older than rememberMs is dropped at the next.
  const userEnded = new Map<string, Map<string, number>>()
  const orgEnded = new Map<string, number>()
  // When every stream was last ended (a revocation channel back after a loss, a shutdown).
  let allEnded = -Infinity

  function forgetOld (t: number): void {
    for (const [org, at] of orgEnded) if (t - at > rememberMs) orgEnded.delete(org)
    for (const [user, byOrg] of userEnded) {
      for (const [org, at] of byOrg) if (t - at > rememberMs) byOrg.delete(org)
      if (byOrg.size === 0) userEnded.delete(user)
    }
  }

  function endedSince (owner: StreamOwner, admittedAt: number): boolean {
    if (allEnded >= admittedAt || (orgEnded.get(owner.org) ?? -Infinity) >= admittedAt) return true
    const byOrg = userEnded.get(owner.userId)
    if (byOrg === undefined) return false
    return Math.max(byOrg.get(owner.org) ?? -Infinity, byOrg.get(ALL_ORGS) ?? -Infinity) >= admittedAt
  }

  function track (upstream: Readable, owner: StreamOwner, admittedAt?: number, options?: TrackOptions): Readable {
    const keepAliveMs = options?.keepAlive === false ? 0 : opts.keepAliveMs
    const boundary = createEventBoundary()
    const timers: NodeJS.Timeout[] = []
    const client = new Transform({
      transform (chunk: Buffer, _encoding, done) {
        if (keepAliveMs > 0) boundary.feed(chunk)
        for (const timer of timers) timer.refresh()
        done(null, chunk)
      }
    })

    // A clean end of body, never an error: an SSE client reconnects (with Last-Event-ID) after it,
    // and a partial event is simply dropped by its parser.
    function end (): void {
      if (!open.delete(client)) return
      for (const timer of timers) clearTimeout(timer)
      // Undici reports a destroyed body as aborted: that is ours, not a failure to pass on.
      upstream.off('error', end)
      upstream.on('error', ignore)
      upstream.unpipe(client)
      upstream.destroy()
      client.end()
    }

    if (keepAliveMs > 0) {
      const keepAlive: NodeJS.Timeout = setTimeout(function ping () {
        if (boundary.between && client.writable) client.push(PING)
        keepAlive.refresh()
      }, keepAliveMs)
      timers.push(keepAlive)
    }
    if (opts.idleTimeoutMs > 0) timers.push(setTimeout(end, opts.idleTimeoutMs))

    // The owner's two ids only, not the object given (a request's destination, with its key).
    open.set(client, { end, owner: { userId: owner.userId, org: owner.org } })
    // Upstream reset mid-stream: the client still gets a clean end.
    upstream.on('error', end)
    // The client went away or the stream finished: release the upstream request and the timers.
    client.on('close', () => {
      open.delete(client)
      for (const timer of timers) clearTimeout(timer)
      if (!upstream.destroyed) upstream.destroy()
    })
    upstream.pipe(client)
    if (admittedAt !== undefined && endedSince(owner, admittedAt)) end()
    return client
  }

  function endWhere (test: (owner: StreamOwner) => boolean): number {
    let ended = 0
    for (const { end, owner } of [...open.values()]) {
      if (!test(owner)) continue
      end()
      ended++
    }
    return ended
  }

  return {
    track,
    endAll () {
      allEnded = now()
      for (const { end } of [...open.values()]) end()
    },
    endFor (userId, org) {
      const t = now()
      forgetOld(t)
      let byOrg = userEnded.get(userId)
      if (byOrg === undefined) userEnded.set(userId, byOrg = new Map())
      byOrg.set(org ?? ALL_ORGS, t)
      return endWhere(owner => owner.userId === userId && (org === undefined || owner.org === org))
    },
    endForOrgs (orgs) {
      const t = now()
      forgetOld(t)
      const set = new Set(orgs)
      for (const org of set) orgEnded.set(org, t)
      return set.size === 0 ? 0 : endWhere(owner => set.has(owner.org))
    },
    get size () { return open.size }
  }
}
