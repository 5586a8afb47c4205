/** What the audit log names of a JSON-RPC request: its method and, for `tools/call`, the tool. */
export interface RpcSummary {
  method?: string
  tool?: string
}

/** Enough for any JSON-RPC envelope: the method and the tool name come first in practice. */
export const PEEK_BYTES = 8 * 1024
const MAX_NAME = 128
const METHOD = /"method"\s*:\s*"((?:[^"\\]|\\.){1,128})"/
const TOOL = /"params"\s*:\s*\{[\s\S]*?"name"\s*:\s*"((?:[^"\\]|\\.){1,128})"/

/**
 * The method and tool of a JSON-RPC message (the first of a batch), from all or part of its bytes,
 * as `JSON.parse` would read them: the last of duplicate keys counts, escapes are decoded. This
 * runs for every proxied request, so a complete body is read in one pass over its bytes that
 * checks the JSON grammar and keeps only the strings it needs, without building the message.
 * Not JSON (cut off at the limit, say): the first "method", and a "name" inside "params".
 */
export function summarize (bytes: Buffer): RpcSummary {
  const found = scan(bytes)
  if (found === null) {
    const text = bytes.toString('utf8')
    const method = METHOD.exec(text)?.[1]
    const tool = method === 'tools/call' ? TOOL.exec(text)?.[1] : undefined
    return clean(method, tool)
  }
  return clean(found.method, found.method === 'tools/call' ? found.tool : undefined)
}

function clean (method: string | undefined, tool: string | undefined): RpcSummary {
  const out: RpcSummary = {}
  if (method !== undefined) out.method = method.slice(0, MAX_NAME)
  if (tool !== undefined) out.tool = tool.slice(0, MAX_NAME)
  return out
}

// Characters of the grammar.
const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const COLON = 0x3a
const COMMA = 0x2c

// What a key of the message (or of its params) is, for the value that follows it.
const OTHER = 0
const KEY_METHOD = 1
const KEY_PARAMS = 2
const KEY_NAME = 3

/** The nesting of a scan: one byte per open container, grown for a deeper message. */
let containers = new Uint8Array(256)

function isSpace (c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

function isDigit (c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

function isHex (c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}

/** Whether the last string `skipString` passed over holds an escape. */
let escaped = false

/** The index after the string that opens at `at`, or -1 if it is not a JSON string. */
function skipString (b: Buffer, at: number): number {
  escaped = false
  for (let i = at + 1; i < b.length; i++) {
    const c = b[i]
    if (c === QUOTE) return i + 1
    if (c < 0x20) return -1
    if (c === BACKSLASH) {
      escaped = true
      const e = b[++i]
      if (e === 0x75) {
        if (i + 4 >= b.length || !isHex(b[i + 1]) || !isHex(b[i + 2]) || !isHex(b[i + 3]) || !isHex(b[i + 4])) return -1
        i += 4
      } else if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) {
        return -1
      }
    }
  }
  return -1
}

/** The text of the string `skipString` just passed, from its opening quote to after its closing one. */
function stringAt (b: Buffer, start: number, end: number): string {
  return escaped ? JSON.parse(b.toString('utf8', start, end)) as string : b.toString('utf8', start + 1, end - 1)
}

/** Whether the string `skipString` just passed, with no escape in it, is `word`. */
function isWord (b: Buffer, start: number, end: number, word: string): boolean {
  if (end - start - 2 !== word.length) return false
  for (let k = 0; k < word.length; k++) if (b[start + 1 + k] !== word.charCodeAt(k)) return false
  return true
}

/** Which key the string `skipString` just passed is, for the message or for its params. */
function keyOf (b: Buffer, start: number, end: number, inParams: boolean): number {
  if (escaped) {
    // A key spelled with escapes is compared as JSON.parse reads it.
    const key = stringAt(b, start, end)
    if (inParams) return key === 'name' ? KEY_NAME : OTHER
    return key === 'method' ? KEY_METHOD : key === 'params' ? KEY_PARAMS : OTHER
  }
  if (inParams) return isWord(b, start, end, 'name') ? KEY_NAME : OTHER
  return isWord(b, start, end, 'method') ? KEY_METHOD : isWord(b, start, end, 'params') ? KEY_PARAMS : OTHER
}

/** The index after the number that starts at `at`, or -1 if it is not a JSON number. */
function skipNumber (b: Buffer, at: number): number {
  let i = at
  if (b[i] === 0x2d) i++
  if (b[i] === 0x30) {
    i++
  } else if (isDigit(b[i])) {
    while (isDigit(b[i])) i++
  } else {
    return -1
  }
  if (b[i] === 0x2e) {
    if (!isDigit(b[++i])) return -1
    while (isDigit(b[i])) i++
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++
    if (b[i] === 0x2b || b[i] === 0x2d) i++
    if (!isDigit(b[i])) return -1
    while (isDigit(b[i])) i++
  }
  return i
}

function skipLiteral (b: Buffer, at: number, word: string): number {
  for (let k = 0; k < word.length; k++) if (b[at + k] !== word.charCodeAt(k)) return -1
  return at + word.length
}

const NOT_A_STRING = 1
/** A depth no container has: the message has been read. */
const DONE = -2

/**
 * One pass over a JSON text: null if it is not JSON, else the method (a string, or undefined) of
 * the message (the first element of a batch) and the name in its params.
 */
function scan (b: Buffer): { method: string | undefined, tool: string | undefined } | null {
  if (containers.length < b.length) containers = new Uint8Array(b.length)
  let depth = 0
  // The depth of the message's own object (1, or 2 in a batch), 0 while none is open or known.
  let messageDepth = 0
  let batchFirst = false
  let paramsOpen = false
  let method: string | typeof NOT_A_STRING | undefined
  let tool: string | typeof NOT_A_STRING | undefined
  let pending = OTHER
  // After a value (or an opening bracket, when `empty`): a comma or the closing bracket.
  let afterValue = false
  let empty = false
  let i = 0
  const end = b.length

  while (true) {
    while (i < end && isSpace(b[i])) i++
    if (afterValue) {
      if (depth === 0) return i === end ? { method: typeof method === 'string' ? method : undefined, tool: typeof tool === 'string' ? tool : undefined } : null
      const c = b[i]
      const open = containers[depth - 1]
      if ((c === CLOSE_OBJECT && open === OPEN_OBJECT) || (c === CLOSE_ARRAY && open === OPEN_ARRAY)) {
        if (paramsOpen && depth === messageDepth + 1) paramsOpen = false
        // The message is complete: the rest of a batch is only checked.
        if (depth === messageDepth) messageDepth = DONE
        depth--
        i++
        empty = false
        continue
      }
      if (!empty) {
        if (c !== COMMA) return null
        i++
        while (i < end && isSpace(b[i])) i++
      }
    }
    // A key comes first in an object.
    pending = OTHER
    if (depth > 0 && containers[depth - 1] === OPEN_OBJECT) {
      if (b[i] !== QUOTE) return null
      const keyEnd = skipString(b, i)
      if (keyEnd === -1) return null
      if (depth === messageDepth) pending = keyOf(b, i, keyEnd, false)
      else if (paramsOpen && depth === messageDepth + 1) pending = keyOf(b, i, keyEnd, true)
      i = keyEnd
      while (i < end && isSpace(b[i])) i++
      if (b[i] !== COLON) return null
      i++
      while (i < end && isSpace(b[i])) i++
    }
    if (i >= end) return null
    // A value.
    const c = b[i]
    if (depth === 1 && batchFirst) {
      batchFirst = false
      if (c === OPEN_OBJECT) messageDepth = 2
    }
    if (pending === KEY_PARAMS) tool = undefined
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (depth === 0 && c === OPEN_OBJECT) messageDepth = 1
      if (depth === 0 && c === OPEN_ARRAY) batchFirst = true
      if (pending === KEY_PARAMS && c === OPEN_OBJECT) paramsOpen = true
      if (pending === KEY_METHOD) method = NOT_A_STRING
      if (pending === KEY_NAME) tool = NOT_A_STRING
      containers[depth++] = c
      i++
      afterValue = true
      empty = true
      continue
    }
    let next: number
    if (c === QUOTE) {
      next = skipString(b, i)
      if (next !== -1 && pending === KEY_METHOD) method = stringAt(b, i, next)
      if (next !== -1 && pending === KEY_NAME) tool = stringAt(b, i, next)
    } else {
      next = c === 0x74 ? skipLiteral(b, i, 'true') : c === 0x66 ? skipLiteral(b, i, 'false') : c === 0x6e ? skipLiteral(b, i, 'null') : skipNumber(b, i)
      if (pending === KEY_METHOD) method = NOT_A_STRING
      if (pending === KEY_NAME) tool = NOT_A_STRING
    }
    if (next === -1) return null
    i = next
    afterValue = true
    empty = false
  }
}
