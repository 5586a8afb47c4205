import { setFlagsFromString } from 'node:v8'

const PRETENURING_FLAG = /^--(no-)?allocation[-_]site[-_]pretenuring$/

/**
 * Turns off V8's allocation-site pretenuring for this process, unless node's command line already
 * sets it either way; returns whether it did. server.ts calls it before it takes any load; an app
 * that embeds the gateway decides for itself (`node --no-allocation-site-pretenuring`; V8 flags
 * are not allowed in NODE_OPTIONS).
 *
 * Why: under a proxy's load, V8 soon decides that the listener table every Node stream makes
 * (`_events`, one object literal for all Readables) outlives a young-generation collection, and
 * from then on allocates it in the old generation. Those tables die with their request but stay
 * until the next full collection, and all their listeners reach (the request and reply, both
 * streams, undici's request) is copied by every scavenge with them: about 30% of what a request
 * allocates, against 1% without, and scavenge pauses of ~15 ms instead of ~1.5 ms. Objects
 * allocated old carry no feedback, so V8 never takes the decision back. A bare Fastify +
 * @fastify/reply-from proxy shows the same (`npm run bench:gc`).
 */
export function disablePretenuring (execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some(arg => PRETENURING_FLAG.test(arg))) return false
  setFlagsFromString('--no-allocation-site-pretenuring')
  return true
}
