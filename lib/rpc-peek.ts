import type { Readable } from 'node:stream'
import { watchBody } from './body-watch.ts'

/** What the audit log names of a JSON-RPC request: its method and, for `tools/call`, the tool. */
export interface RpcSummary {
  method?: string
  tool?: string
}

/** A body passing through, and what its first bytes say once asked. */
export interface RpcPeek {
  body: Readable
  summary: () => RpcSummary
}

/** Enough for any JSON-RPC envelope: the method and the tool name come first in practice. */
export const PEEK_BYTES = 8 * 1024
const MAX_NAME = 128
const METHOD = /"method"\s*:\s*"((?:[^"\\]|\\.){1,128})"/
const TOOL = /"params"\s*:\s*\{[\s\S]*?"name"\s*:\s*"((?:[^"\\]|\\.){1,128})"/

/**
 * Passes `body` through unchanged while keeping a copy of its first `limit` bytes only: the body
 * is never buffered, and a large one is summarised from its beginning. Errors of `body` (a body
 * cut off at the size limit) reach the reader as they are.
 */
export function peekRpc (body: Readable, limit: number): RpcPeek {
  const watched = watchBody(body, { limit: Infinity, keep: limit })
  return { body: watched.body, summary: () => summarize(watched.head().toString('utf8')) }
}

/** The method and tool of a JSON-RPC message (the first of a batch), from all or part of it. */
export function summarize (text: string): RpcSummary {
  let message: unknown
  try {
    message = JSON.parse(text)
  } catch {
    // Cut off at the limit (or not JSON): the first "method", and a "name" inside "params".
    const method = METHOD.exec(text)?.[1]
    const tool = method === 'tools/call' ? TOOL.exec(text)?.[1] : undefined
    return clean({ method, tool })
  }
  const first = (Array.isArray(message) ? message[0] : message) as { method?: unknown, params?: { name?: unknown } } | null
  if (first === null || typeof first !== 'object') return {}
  const method = typeof first.method === 'string' ? first.method : undefined
  const tool = method === 'tools/call' && typeof first.params?.name === 'string' ? first.params.name : undefined
  return clean({ method, tool })
}

function clean (summary: { method?: string, tool?: string }): RpcSummary {
  const out: RpcSummary = {}
  if (summary.method !== undefined) out.method = summary.method.slice(0, MAX_NAME)
  if (summary.tool !== undefined) out.tool = summary.tool.slice(0, MAX_NAME)
  return out
}
