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
