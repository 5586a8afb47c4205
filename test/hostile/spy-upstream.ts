import { listen, sendJson } from '../fixtures/listen.ts'

/** One request the upstream received, reduced to what the hostile suite checks. */
export interface SpyRecord {
  fuzzId: string | undefined
  method: string
  url: string
  authorization: string | undefined
  sessionId: string | undefined
  cookie: string | undefined
}

/** Ragie, as a spy: records every request compactly, answers at once, hands out session ids. */
export interface SpyUpstream {
  url: string
  records: SpyRecord[]
  /** Upstream session id → the fuzz id of the request that created it. */
  issued: Map<string, string>
  close: () => Promise<void>
}

/** Starts the spy on 127.0.0.1; a path ending in `/session` gets a new `Mcp-Session-Id`. */
export async function startSpyUpstream (): Promise<SpyUpstream> {
  const records: SpyRecord[] = []
  const issued = new Map<string, string>()
  const server = await listen((req, res) => {
    const header = (name: string) => {
      const value = req.headers[name]
      return Array.isArray(value) ? value.join(', ') : value
    }
    const record: SpyRecord = {
      fuzzId: header('x-fuzz-id'),
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: header('authorization'),
      sessionId: header('mcp-session-id'),
      cookie: header('cookie')
    }
    records.push(record)
    req.resume()
    req.on('end', () => {
      const headers: Record<string, string> = {}
      if ((req.url ?? '').split('?')[0].endsWith('/session')) {
        const id = `up-${issued.size + 1}`
        issued.set(id, record.fuzzId ?? '')
        headers['mcp-session-id'] = id
      }
      sendJson(res, 200, { ok: true }, headers)
    })
  })
  return { url: server.url, records, issued, close: server.close }
}
