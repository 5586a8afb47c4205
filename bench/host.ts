import { readFileSync, readdirSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'

/**
 * What the benchmark report says about the machine beyond Node's version: the CPU model, and the
 * kernel's data access monitors (DAMON), which on these virtual machines take a core for some ms
 * at each sampling interval (docs/benchmarks.md, "Reading the numbers").
 */

export interface AccessMonitor {
  /** How often the monitor wakes to sample, in ms. */
  sampleMs: number
  /** What its first scheme does with what it finds (`pageout`, …), or `none`. */
  action: string
}

export const DAMON_ROOT = '/sys/kernel/mm/damon/admin/kdamonds'

function read (path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return undefined
  }
}

/** The kernel's data access monitors that are running: none where DAMON is absent or off. */
export function runningMonitors (root = DAMON_ROOT): AccessMonitor[] {
  let entries: string[]
  try {
    entries = readdirSync(root)
  } catch {
    return []
  }
  const monitors: AccessMonitor[] = []
  for (const entry of entries.filter(e => /^\d+$/.test(e)).sort((a, b) => Number(a) - Number(b))) {
    const dir = join(root, entry)
    if (read(join(dir, 'state')) !== 'on') continue
    const sampleUs = Number(read(join(dir, 'contexts', '0', 'monitoring_attrs', 'intervals', 'sample_us')))
    if (!Number.isFinite(sampleUs) || sampleUs <= 0) continue
    monitors.push({ sampleMs: sampleUs / 1000, action: read(join(dir, 'contexts', '0', 'schemes', '0', 'action')) ?? 'none' })
  }
  return monitors
}

/** The CPU model as the kernel names it, spaces tidied; `unknown CPU` where it names none. */
export function cpuModel (list: ReadonlyArray<{ model: string }> = cpus()): string {
  const model = list[0]?.model.replace(/\s+/g, ' ').trim()
  return model === undefined || model === '' ? 'unknown CPU' : model
}
