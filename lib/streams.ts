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

/**
 * An upstream event stream as the proxy relays it (lib/upstream-request.ts): the very stream the
 * client is sent, with two more powers than a Readable, so that the registry needs no stream of
 * its own in between (a Transform and a second pipe a stream cost a POST answered with an event
 * stream about a third of its CPU).
 */
export interface RelayedStream extends Readable {
  /**
   * Ends it where it stands: what it holds still reaches the client, then a clean end of body (an
   * SSE client reconnects, with Last-Event-ID, and drops a partial event); the request behind it
   * is closed. Nothing once it has ended.
   */
  endCleanly: () => void
  /** Adds bytes of the gateway's own (a ping) after what it holds; false once it has ended. */
  relay: (chunk: Buffer) => boolean
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
   * Tracks an upstream event stream, and returns it: what the client is sent, and what the `end*`
   * methods can end. Attach its reader in the same tick (it flows from the next).
   * `admittedAt` (the `now` clock) is when its request came in: ended at once if the owner's
   * streams were ended since.
   */
  track: (stream: RelayedStream, owner: StreamOwner, admittedAt?: number, options?: TrackOptions) => RelayedStream
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

const ALL_ORGS = ''

/** Creates an empty registry. */
export function createStreamRegistry (opts: StreamRegistryOptions = { keepAliveMs: 0, idleTimeoutMs: 0 }): StreamRegistry {
  const open = new Map<RelayedStream, OpenStream>()
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

  function track (stream: RelayedStream, owner: StreamOwner, admittedAt?: number, options?: TrackOptions): RelayedStream {
    const keepAliveMs = options?.keepAlive === false ? 0 : opts.keepAliveMs
    const idleMs = opts.idleTimeoutMs
    const boundary = createEventBoundary()
    // One timer a stream, for both pings and the idle end, and not put back for every chunk: a
    // chunk only notes the time (performance.now), and the timer, when it fires, does what is due
    // and is set again for what is next.
    let seen = performance.now()
    // When a ping was last due (sent, or held back inside an event).
    let pinged = seen
    let timer: NodeJS.Timeout | null = null

    function release (): void {
      open.delete(stream)
      if (timer !== null) clearTimeout(timer)
      timer = null
    }

    // A clean end of body, never an error: an SSE client reconnects (with Last-Event-ID) after it,
    // and a partial event is simply dropped by its parser.
    function end (): void {
      if (!open.has(stream)) return
      release()
      stream.endCleanly()
    }

    function schedule (t: number): void {
      let next = Infinity
      if (idleMs > 0) next = seen + idleMs
      if (keepAliveMs > 0) next = Math.min(next, Math.max(seen, pinged) + keepAliveMs)
      if (next !== Infinity) timer = setTimeout(check, Math.max(1, Math.ceil(next - t)))
    }

    function check (): void {
      timer = null
      const t = performance.now()
      if (idleMs > 0 && t - seen >= idleMs) return end()
      if (keepAliveMs > 0 && t - Math.max(seen, pinged) >= keepAliveMs) {
        // Only between events, and only with nothing still waiting for a slow client.
        if (boundary.between && stream.readableLength === 0) stream.relay(PING)
        pinged = t
      }
      schedule(t)
    }

    schedule(seen)
    // The owner's two ids only, not the object given (a request's destination, with its key).
    open.set(stream, { end, owner: { userId: owner.userId, org: owner.org } })
    // Each upstream chunk as the client is sent it (a paused read, a slow client, is no silence):
    // where the events stand, and when it came. A ping of ours is no sign of life.
    stream.on('data', (chunk: Buffer) => {
      if (chunk === PING) return
      if (keepAliveMs > 0) boundary.feed(chunk)
      seen = performance.now()
    })
    // Ended, failed, or the client went away (its destroy closes the upstream request): released.
    stream.on('close', release)
    if (admittedAt !== undefined && endedSince(owner, admittedAt)) end()
    return stream
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
