import fp from 'fastify-plugin'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { createSessionBinder } from '../lib/session.ts'
import type { SessionBinder } from '../lib/session.ts'

declare module 'fastify' {
  interface FastifyInstance {
    sessionBinder: SessionBinder
  }
}

/**
 * Binds Ragie's session ids to (user, organization) with an HMAC keyed by `SESSION_SECRET` (and
 * accepts ids bound with `SESSION_SECRET_PREVIOUS` during a rotation); decorates `fastify.sessionBinder`. Without the secret the key is random per start, so sessions only
 * hold on the instance that created them (the config plugin warns).
 */
async function sessionPlugin (fastify: FastifyInstance): Promise<void> {
  const { sessionSecret: secret, sessionSecretPrevious: previous } = fastify.config
  fastify.decorate('sessionBinder', createSessionBinder(
    secret === undefined ? randomBytes(32) : Buffer.from(secret),
    previous === undefined ? [] : [Buffer.from(previous)]
  ))
}

export default fp(sessionPlugin, { name: 'session', fastify: '5.x', dependencies: ['config'] })
