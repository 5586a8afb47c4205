import { newSigningKey } from '../fixtures/authkit.ts'
import type { Fixtures } from '../helper.ts'
import { BASE_URL, CLIENT_ID, MEMBER, ORG, OTHER_ORG, STRANGER } from '../helper.ts'

/** A user with no membership anywhere: a good token, and still no way in. */
export const NOBODY = 'user_01NOBODY000000000000000'

/** A token of the pool, with what it may open. */
export interface PoolToken {
  name: string
  token: string
  sub: string
  /** True when this token is valid for that organization's resource (signature, claims, audience). */
  validFor: (org: string) => boolean
}

const never = () => false

/**
 * Tokens made once per run, so the run costs no RSA signing per request: a few good ones, and one
 * of each way a token can be wrong.
 */
export function buildTokenPool (f: Fixtures): { good: PoolToken[], bad: PoolToken[] } {
  const now = Math.floor(Date.now() / 1000)
  const any = () => true
  const good: PoolToken[] = [
    { name: 'member', token: f.token(MEMBER), sub: MEMBER, validFor: any },
    { name: 'member-2', token: f.token(MEMBER), sub: MEMBER, validFor: any },
    { name: 'member-aud-tenant', token: f.token(MEMBER, { aud: `${BASE_URL}/${ORG}/mcp` }), sub: MEMBER, validFor: org => org === ORG },
    { name: 'other-member', token: f.token(STRANGER), sub: STRANGER, validFor: any },
    { name: 'nobody', token: f.token(NOBODY), sub: NOBODY, validFor: any },
    // Big but within the header limit: as good as any other.
    { name: 'member-large-claims', token: f.token(MEMBER, { pad: 'x'.repeat(6000) }), sub: MEMBER, validFor: any }
  ]
  const valid = f.token(MEMBER)
  const [h, p, s] = valid.split('.')
  const foreign = newSigningKey()
  const publicPem = f.authkit.key.publicKey.export({ type: 'spki', format: 'pem' })
  const bad: Array<[string, string]> = [
    ['truncated', valid.slice(0, valid.length - 7)],
    ['no-signature', `${h}.${p}.`],
    ['two-parts', `${h}.${p}`],
    ['garbled-payload', `${h}.${p.slice(0, 10)}x${p.slice(11)}.${s}`],
    ['swapped-signature', `${h}.${p}.${f.token(STRANGER).split('.')[2]}`],
    ['resigned-other-key', f.token(MEMBER, {}, { key: { ...foreign, kid: f.authkit.key.kid } })],
    ['unknown-kid', f.token(MEMBER, {}, { key: foreign })],
    ['alg-none', f.token(MEMBER, {}, { unsigned: true })],
    ['hs256-public-key', f.token(MEMBER, {}, { hmacSecret: publicPem })],
    ['alg-rs512-header', f.token(MEMBER, {}, { alg: 'RS512' })],
    ['alg-ps256-header', f.token(MEMBER, {}, { alg: 'PS256' })],
    ['expired', f.token(MEMBER, { iat: now - 7200, exp: now - 3600 })],
    ['not-yet-valid', f.token(MEMBER, { nbf: now + 3600 })],
    ['iat-future', f.token(MEMBER, { iat: now + 3600 })],
    ['wrong-issuer', f.token(MEMBER, { iss: 'https://evil.authkit.app' })],
    ['no-issuer', f.token(MEMBER, { iss: undefined })],
    ['no-sub', f.token(MEMBER, { sub: undefined })],
    ['sub-number', f.token(MEMBER, { sub: 12345 })],
    ['sub-object', f.token(MEMBER, { sub: { id: MEMBER } })],
    ['sub-empty', f.token(MEMBER, { sub: '' })],
    ['exp-string', f.token(MEMBER, { exp: String(now + 300) })],
    ['exp-missing', f.token(MEMBER, { exp: undefined })],
    ['aud-other-tenant', f.token(MEMBER, { aud: `${BASE_URL}/${OTHER_ORG}/mcp` })],
    ['aud-other-tenant-and-client', f.token(MEMBER, { aud: [CLIENT_ID, `${BASE_URL}/${OTHER_ORG}/mcp`] })],
    ['aud-wrong', f.token(MEMBER, { aud: 'someone-else' })],
    ['aud-number', f.token(MEMBER, { aud: 42 })],
    ['aud-missing', f.token(MEMBER, { aud: undefined })],
    ['kid-huge', f.token(MEMBER, {}, { kid: 'k'.repeat(2000) })],
    ['header-not-json', `${Buffer.from('{"alg":').toString('base64url')}.${p}.${s}`],
    // Past Node's 16 KiB header limit: 431 before anything reads it.
    ['oversized', f.token(MEMBER, { pad: 'x'.repeat(20_000) })],
    ['not-a-jwt', 'hello'],
    ['empty', ''],
    ['dots', '...'],
    ['base64-junk', Buffer.from('\u0000\u00ff'.repeat(40), 'latin1').toString('base64')]
  ]
  return { good, bad: bad.map(([name, token]) => ({ name, token, sub: MEMBER, validFor: never })) }
}
