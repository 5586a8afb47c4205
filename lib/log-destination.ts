import { writeSync } from 'node:fs'

export interface LogDestinationOptions {
  /** The file descriptor lines go to (1: stdout). */
  fd: number
  /** Gathered lines are written once they reach this many bytes. */
  flushBytes?: number
  /** …and at least this often. */
  flushMs?: number
  /** Told once when the descriptor refuses a write (closed, full disk); those lines are lost. */
  onError?: (err: NodeJS.ErrnoException) => void
}

export interface LogDestination {
  /** Gathers one line (pino hands over each line with its newline). */
  write: (line: string) => void
  /** Writes out everything gathered, now. */
  flushSync: () => void
}

const EAGAIN_PAUSE_MS = 10
const pause = new Int32Array(new SharedArrayBuffer(4))

/**
 * A pino destination that gathers lines in one preallocated buffer and writes them with one system
 * call per `flushBytes` (16 KiB: about 50 request lines), on the event loop's own thread.
 *
 * pino's own (sonic-boom with `minLength`) appends each line to a growing string and measures that
 * string in bytes on every line, which copies it each time: per line that cost more than writing
 * the line into a buffer and more than the system call it saves. Here each line is encoded once,
 * into its place in the buffer.
 *
 * A pipe that is full (EAGAIN) is waited for, as with a blocking write; any other error drops
 * what was gathered and is reported once, and logging goes on.
 */
export function createLogDestination (opts: LogDestinationOptions): LogDestination {
  const flushBytes = opts.flushBytes ?? 16 * 1024
  const buffer = Buffer.allocUnsafe(flushBytes * 4)
  let used = 0
  let failed = false

  function writeAll (bytes: Buffer, length: number): void {
    let offset = 0
    while (offset < length) {
      try {
        offset += writeSync(opts.fd, bytes, offset, length - offset)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          Atomics.wait(pause, 0, 0, EAGAIN_PAUSE_MS)
          continue
        }
        if (!failed) {
          failed = true
          opts.onError?.(err as NodeJS.ErrnoException)
        }
        return
      }
    }
  }

  function flushSync (): void {
    if (used === 0) return
    const length = used
    used = 0
    writeAll(buffer, length)
  }

  function write (line: string): void {
    // UTF-8 takes at most 3 bytes for each UTF-16 unit of the line.
    if (used + line.length * 3 > buffer.length) {
      flushSync()
      if (line.length * 3 > buffer.length) {
        const bytes = Buffer.from(line)
        writeAll(bytes, bytes.length)
        return
      }
    }
    used += buffer.write(line, used)
    if (used >= flushBytes) flushSync()
  }

  setInterval(flushSync, opts.flushMs ?? 250).unref()
  return { write, flushSync }
}
