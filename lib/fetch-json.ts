/**
 * GETs a JSON document within `timeoutMs` (native fetch has no timeout of its own); throws on a
 * network error, a timeout, a status other than 2xx or a body that is not JSON.
 */
export async function fetchJson (doFetch: typeof fetch, url: string, timeoutMs: number): Promise<unknown> {
  const res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } })
  if (!res.ok) {
    await res.body?.cancel()
    throw new Error(`status ${res.status}`)
  }
  return await res.json()
}
