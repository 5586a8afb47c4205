import { connect } from 'node:net'

/** What came back for one raw request: the status (null: no HTTP answer) and the answer's bytes. */
export interface RawAnswer {
  status: number | null
  headers: string
  body: string
  timedOut: boolean
}

/** Length of a complete answer in `data`, or -1 while more is needed (Content-Length or chunked). */
function completeLength (data: Buffer, head: boolean): number {
  const split = data.indexOf('\r\n\r\n')
  if (split === -1) return -1
  const headers = data.subarray(0, split).toString('latin1').toLowerCase()
  const start = split + 4
  if (head || /^http\/1\.1 (1\d\d|204|304)/.test(headers)) return start
  const length = /\r\ncontent-length: *(\d+)/.exec(headers)
  if (length !== null) return data.length >= start + Number(length[1]) ? start + Number(length[1]) : -1
  if (/\r\ntransfer-encoding: *chunked/.test(headers)) return data.subarray(start).includes('0\r\n\r\n') ? data.length : -1
  return -1
}

/**
 * Writes `bytes` as they are to 127.0.0.1:`port` and reads one answer, without trusting the
 * server to close: a complete answer ends the read; a stuck one ends after `timeoutMs`.
 */
export function sendRaw (port: number, bytes: Buffer, head: boolean, timeoutMs = 10_000): Promise<RawAnswer> {
  return new Promise(resolve => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let settled = false
    function finish (timedOut: boolean): void {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      const data = Buffer.concat(chunks)
      const split = data.indexOf('\r\n\r\n')
      const statusLine = /^HTTP\/1\.1 (\d{3})/.exec(data.subarray(0, 20).toString('latin1'))
      resolve({
        status: statusLine === null ? null : Number(statusLine[1]),
        headers: split === -1 ? data.toString('latin1') : data.subarray(0, split).toString('latin1'),
        body: split === -1 ? '' : data.subarray(split + 4).toString('utf8'),
        timedOut
      })
    }
    const timer = setTimeout(() => finish(true), timeoutMs)
    socket.on('data', chunk => {
      chunks.push(chunk)
      if (completeLength(Buffer.concat(chunks), head) !== -1) finish(false)
    })
    socket.on('error', () => finish(false))
    socket.on('close', () => finish(false))
    socket.write(bytes)
  })
}
