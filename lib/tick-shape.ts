import { createHook } from 'node:async_hooks'

// The one object this module keeps: a `process.nextTick` queue entry, alive for the whole process.
let pinned: object | undefined

/**
 * Keeps one of Node's `process.nextTick` queue entries alive for the life of the process, so that
 * the hidden class (V8 map) every entry gets is never collected; returns the entry kept (none only
 * while the process exits: nextTick queues nothing then). Called again, it returns the same entry. Call it as early as possible: server.ts does, first thing, and
 * so does the gateway plugin when it is registered.
 *
 * Why: `nextTick` (node:internal/process/task_queues) makes each entry with an object literal
 * whose first three keys are computed (symbols). V8 records, for each such key, the map the object
 * had the first time, and holds that map weakly. Entries live for a tick, so whenever a full
 * collection runs while none is queued (an idle moment, at start or between bursts) those maps die,
 * later entries get new ones, and V8 gives up on the site for good: from then on every entry takes
 * V8's slow runtime path three times, migrating the object's map each time. The gateway and the
 * bare proxy queue some 20 ticks a request; a process that fell into that state (at random: five
 * of ten bare proxies counted with callgrind, 2026-12-06) ran 80,000 to 100,000 more instructions
 * a request, 25 to 34% more, until it restarted. With one entry kept alive the maps never die.
 *
 * The entry is taken from an async hook's `init`, enabled for one `nextTick` call and disabled
 * again: no hook stays installed, so nothing else pays for it.
 */
export function pinTickObjectShape (): object | undefined {
  if (pinned !== undefined) return pinned
  const hook = createHook({
    init (_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject' && pinned === undefined) pinned = resource
    }
  })
  hook.enable()
  try {
    process.nextTick(noop)
  } finally {
    hook.disable()
  }
  return pinned
}

function noop (): void {}
