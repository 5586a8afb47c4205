import { setFlagsFromString } from 'node:v8'

/** A V8 flag the gateway sets, and the command-line flags (either way) that leave it to node's. */
interface Setting {
  flag: string
  chosen: RegExp
}

const NO_PRETENURING: Setting = { flag: '--no-allocation-site-pretenuring', chosen: /^--(no-)?allocation[-_]site[-_]pretenuring$/ }
const NO_MAGLEV: Setting = { flag: '--no-maglev', chosen: /^--(no-)?maglev$/ }

/** Sets `setting.flag` for this process unless node's command line chose either way. */
function apply (setting: Setting, execArgv: readonly string[]): boolean {
  if (execArgv.some(arg => setting.chosen.test(arg))) return false
  setFlagsFromString(setting.flag)
  return true
}

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
  return apply(NO_PRETENURING, execArgv)
}

/**
 * Turns off Maglev, V8's mid-tier optimising compiler, for this process, unless node's command
 * line sets `--maglev` either way; returns whether it did. Hot functions then go from the
 * interpreter (and Sparkplug) straight to TurboFan.
 *
 * Why: while the hot path runs as Maglev's code (or the interpreter's), some 40% of what each
 * request allocates outlives every scavenge (~15 MB each time under the benchmark's load), with
 * pauses of 15 to 50 ms; once TurboFan's code replaces it, 1% does. Maglev compiles the hot path
 * within the first second and TurboFan took over only seconds later, and the spells came back
 * after each change of load (deoptimisations, most likely): in a round of `npm run bench:hot` the
 * gateway promoted 10 to 13% of all it allocated and paused 470 to 650 ms. Without Maglev: 1.6 to
 * 2% promoted, 170 to 230 ms of pauses a round, and the spells end within the warm-up (with Maglev
 * alone they never end; with the interpreter alone neither). Measured with `bench/gc-trace.ts`;
 * the objects kept are garbage for a full collection (a heap snapshot taken in a spell frees them
 * all), so they are held by references a scavenge treats as strong and a full collection does
 * not, most likely the type feedback that interpreted and Maglev code keep recording and
 * TurboFan's does not. The cost: a fresh process runs its hot path interpreted a little longer
 * before TurboFan's code takes over.
 */
export function disableMaglev (execArgv: readonly string[] = process.execArgv): boolean {
  return apply(NO_MAGLEV, execArgv)
}

/**
 * The V8 settings a standalone gateway runs with (server.ts, before any load): pretenuring and
 * Maglev off, each unless node's command line chose. Returns the flags it set.
 */
export function tuneV8 (execArgv: readonly string[] = process.execArgv): string[] {
  return [NO_PRETENURING, NO_MAGLEV].filter(setting => apply(setting, execArgv)).map(setting => setting.flag)
}
