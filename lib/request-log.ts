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

/** A request's log bindings and child options, as Fastify hands them to its `childLoggerFactory`. */
type Bindings = Record<string, unknown>

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

// pino's own "no onChild hook" (pino sets one function for every logger without the option).
const NO_ON_CHILD = (pino({}, { write () {} }) as unknown as { onChild: unknown }).onChild
// Per parent logger: the child with no bindings of its own that request loggers are made from, or
// null when a request logger must be made by pino itself.
const requestLoggerBases = new WeakMap<object, PinoLogger | null>()

function hasKeys (o: object): boolean {
  // eslint-disable-next-line no-unreachable-loop -- one key is enough, and for-in makes no array
  for (const _ in o) return true
  return false
}

/** The request id, when it is all the bindings hold (as Fastify makes them). */
function onlyReqId (bindings: Bindings): string | undefined {
  let reqId: unknown
  for (const key in bindings) {
    if (key !== 'reqId') return undefined
    reqId = bindings[key]
  }
  return typeof reqId === 'string' ? reqId : undefined
}

/** Whether `l` is a pino logger that makes a `{ reqId }` child by no rule of its own. */
function makesPlainReqIdChildren (l: PinoLogger): boolean {
  const serializers = l[sym.serializersSym] as Record<string, unknown> | undefined
  const stringifiers = l[sym.stringifiersSym] as Record<string | symbol, unknown> | undefined
  return typeof (l as { child?: unknown }).child === 'function' &&
    typeof l[sym.chindingsSym] === 'string' &&
    typeof l[sym.stringifySym] === 'function' &&
    (l as { onChild?: unknown }).onChild === NO_ON_CHILD &&
    serializers !== undefined && serializers.reqId === undefined &&
    stringifiers !== undefined && stringifiers.reqId === undefined && stringifiers[sym.wildcardFirstSym] === undefined
}

function requestLoggerBase (logger: PinoLogger): PinoLogger | null {
  let base = requestLoggerBases.get(logger)
  if (base === undefined) {
    base = makesPlainReqIdChildren(logger) ? (logger as unknown as { child: (b: Bindings) => PinoLogger }).child({}) : null
    requestLoggerBases.set(logger, base)
  }
  return base
}

/**
 * Fastify's `childLoggerFactory` for the gateway: each request's logger is the child pino would
 * make for `{ reqId }` (the same bindings, so the same lines: a test compares them), made as one
 * object over a child of the root made once. Fastify asks pino with an options object, even an
 * empty one, and pino then builds its formatters anew and walks the bindings through its
 * serializers and redaction for every request: about 1% of the hot path's CPU. Any other case (a
 * route's own level or serializers, a logger with an `onChild` hook, a serializer or redaction
 * rule for `reqId`, a logger not of this pino) is left to the logger's own `child`.
 */
export function requestChildLogger (logger: unknown, bindings: Bindings, opts: object): unknown {
  const reqId = onlyReqId(bindings)
  if (reqId !== undefined && !hasKeys(opts)) {
    const base = requestLoggerBase(logger as PinoLogger)
    if (base !== null) {
      const child = Object.create(base) as PinoLogger
      child[sym.chindingsSym] = `${base[sym.chindingsSym] as string},"reqId":${JSON.stringify(reqId)}`
      return child
    }
  }
  return (logger as { child: (b: Bindings, o: object) => unknown }).child(bindings, opts)
}
