import fp from 'fastify-plugin'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'

// Time for the last chunk of an ended stream to reach its client before sockets are cut.
const FLUSH_MS = 1000
const SWEEP_MS = 100

/**
 * Graceful close: when the app starts closing, in-flight requests finish; open event streams get
 * `SHUTDOWN_GRACE_SECONDS` and then a clean end; keep-alive connections are closed as soon as they
 * fall idle, and so are connections that never sent a request (a client's pre-connected socket
 * would otherwise hold the close until the header timeout). Past the grace period, what is left
 * is cut.
 */
async function shutdownPlugin (fastify: FastifyInstance): Promise<void> {
  const graceMs = fastify.config.shutdownGraceSeconds * 1000
  const server = fastify.server
  const unused = new Set<Socket>()
  const timers: NodeJS.Timeout[] = []

  function onConnection (socket: Socket): void {
    unused.add(socket)
    socket.once('close', () => unused.delete(socket))
  }
  function onRequest (req: { socket: Socket }): void {
    unused.delete(req.socket)
  }
  server.on('connection', onConnection)
  server.on('request', onRequest)

  fastify.addHook('preClose', async () => {
    const sweep = setInterval(() => {
      server.closeIdleConnections()
      for (const socket of unused) socket.destroy()
    }, SWEEP_MS)
    const grace = setTimeout(() => {
      fastify.upstream.streams.endAll()
      timers.push(setTimeout(() => server.closeAllConnections(), FLUSH_MS).unref())
    }, graceMs)
    timers.push(sweep.unref(), grace.unref())
  })

  fastify.addHook('onClose', async () => {
    for (const timer of timers) clearTimeout(timer)
    server.off('connection', onConnection)
    server.off('request', onRequest)
  })
}

export default fp(shutdownPlugin, { name: 'shutdown', fastify: '5.x', dependencies: ['config', 'proxy'] })
