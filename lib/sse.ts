const LF = 0x0a
const CR = 0x0d

/** Where a relayed event stream stands: between two events, or inside one. */
export interface EventBoundary {
  /** Reads the next bytes of the stream, in order. */
  feed: (chunk: Uint8Array) => void
  /** True when a comment may be inserted without landing inside an event. */
  readonly between: boolean
}

/**
 * Tracks event boundaries of a text/event-stream (WHATWG HTML §9.2.5): an event ends with a blank
 * line, and a line ends with CRLF, LF or CR. A comment inserted right after a blank line's CR, whose
 * LF then follows, leaves that LF as one more blank line: harmless, no event is dispatched.
 */
export function createEventBoundary (): EventBoundary {
  let lineLength = 0
  let afterCr = false
  let between = true
  return {
    feed (chunk) {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i]
        if (byte === LF && afterCr) {
          afterCr = false
          continue
        }
        if (byte === LF || byte === CR) {
          between = lineLength === 0
          lineLength = 0
          afterCr = byte === CR
        } else {
          lineLength++
          afterCr = false
          between = false
        }
      }
    },
    get between () { return between }
  }
}
