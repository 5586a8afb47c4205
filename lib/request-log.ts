import pino from 'pino'

/** The fields of the one line per request (SPEC §7), the audit fields included. */
export interface RequestLine {
  method: string
  route: string
  org?: string
  user?: string
  partition?: string
  rpcMethod?: string
  tool?: string
  status: number
  ms: number
}

export const REQUEST_COMPLETED = 'request completed'

// pino's own symbols (pino.symbols; the message prefix one is not in its types).
const sym = pino.symbols as unknown as Record<string, symbol>
const NEEDS_METADATA = Symbol.for('pino.metadata')

type PinoLogger = Record<symbol, unknown>

interface Stream {
  write: (line: string) => void
}

/**
 * Whether `writeRequestLine` can write for this logger the very line that
 * `log.info(line, REQUEST_COMPLETED)` would: a pino logger of this module's pino, with none of the
 * options that change a line (mixin, log formatter, hooks, message key or prefix), writing to a
 * stream that needs no metadata. The gateway checks its root logger once, at start.
 */
export function canWriteRequestLines (log: unknown): boolean {
  const l = log as PinoLogger
  const levels = l[sym.lsCacheSym] as Record<number, unknown> | undefined
  const stream = l[sym.streamSym] as Partial<Stream> & Record<symbol, unknown> | undefined
  const formatters = l[sym.formattersSym] as { log?: unknown } | undefined
  const hooks = l[sym.hooksSym] as { logMethod?: unknown, streamWrite?: unknown } | undefined
  return typeof l[sym.chindingsSym] === 'string' &&
    typeof levels?.[30] === 'string' &&
    typeof l[sym.timeSym] === 'function' &&
    typeof stream?.write === 'function' && stream[NEEDS_METADATA] !== true &&
    l[sym.mixinSym] === undefined &&
    formatters?.log === undefined &&
    hooks?.logMethod === undefined && hooks?.streamWrite === undefined &&
    l[sym.messageKeySym] === 'msg' &&
    l[sym.msgPrefixSym] === undefined
}

/**
 * Writes the request line as pino would for `log.info(line, REQUEST_COMPLETED)`, byte for byte
 * (a test compares the two), without pino's general-purpose serialisation: one string built in
 * place of an object walk with a string per key and value. This line is written for every
 * request; at the benchmark's load pino's way cost about as much as all of the tenant checks.
 * Only for a logger `canWriteRequestLines` accepts, at a level where info is written. One
 * difference: a lone surrogate in a value is written escaped (`\ud800`), where pino writes the
 * code unit itself, which reaches a UTF-8 file as U+FFFD.
 */
export function writeRequestLine (log: unknown, line: RequestLine): void {
  const l = log as PinoLogger
  // The fields as JSON.stringify writes them are as pino writes them: in order, undefined left
  // out, strings escaped, a number that is not finite as null. One native call, one flat string.
  const fields = JSON.stringify(line)
  const out = `${(l[sym.lsCacheSym] as Record<number, string>)[30]}${(l[sym.timeSym] as () => string)()}${l[sym.chindingsSym] as string},${fields.slice(1, -1)},"msg":"${REQUEST_COMPLETED}"}\n`;
  (l[sym.streamSym] as Stream).write(out)
}
