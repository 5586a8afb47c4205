import { readFileSync } from 'node:fs'

/**
 * The most a listen backlog can be on this host: Linux's net.core.somaxconn, which silently caps
 * whatever `listen` asks for. Undefined where it cannot be read (not Linux, a locked-down /proc).
 */
export function kernelBacklogCap (path = '/proc/sys/net/core/somaxconn'): number | undefined {
  try {
    const value = Number(readFileSync(path, 'utf8').trim())
    return Number.isInteger(value) && value > 0 ? value : undefined
  } catch {
    return undefined
  }
}

/** One line for the operator when the backlog asked for is more than the kernel will give. */
export function backlogWarning (backlog: number, cap: number | undefined): string | undefined {
  if (cap === undefined || backlog <= cap) return undefined
  return `LISTEN_BACKLOG is ${backlog} but net.core.somaxconn is ${cap}: the kernel queues at most ${cap} connections not yet accepted; raise net.core.somaxconn to get more`
}
