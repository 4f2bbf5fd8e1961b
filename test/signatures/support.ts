/**
 * Shared fixtures for the auth tests: one key of each algorithm, a resolver
 * over them, a fixed clock and requests as the verifier sees them.
 */
import { createSecretKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { failure } from '../../src/errors.js'
import type { KeyLookup, KeyResolver, SignatureAlgorithm, SignedRequestInput } from '../../src/signatures/message-signature.js'
import { signRequest, type SignOptions, type SigningKey } from '../../src/signatures/request-signer.js'

export const NOW_MS = Date.UTC(2026, 2, 1, 10, 0, 0)
export const NOW_S = NOW_MS / 1000

export interface TestKey extends SigningKey {
  /** What the verifier holds: the public key, or the same secret. */
  readonly verifyKey: KeyObject
  /** Raw secret for HMAC (for the independent implementation). */
  readonly secret?: Buffer
}

export function makeKey (algorithm: SignatureAlgorithm, keyId = `${algorithm}-key`): TestKey {
  if (algorithm === 'hmac-sha256') {
    const secret = randomBytes(32)
    const key = createSecretKey(secret)
    return { keyId, algorithm, key, verifyKey: key, secret }
  }
  const pair = algorithm === 'ed25519'
    ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  return { keyId, algorithm, key: pair.privateKey, verifyKey: pair.publicKey }
}

export function resolverOf (keys: readonly TestKey[], disabled: ReadonlySet<string> = new Set()): KeyResolver {
  const byId = new Map(keys.map((k) => [k.keyId, k]))
  return (keyId: string): KeyLookup => {
    const k = byId.get(keyId)
    if (k === undefined) return failure('IDV_ERR_UNKNOWN_KEY', 'unknown')
    const partyId = `party-of-${keyId}`
    return { ok: true, key: { keyId, partyId, algorithm: k.algorithm, key: k.verifyKey, partyActive: !disabled.has(keyId) } }
  }
}

export const BODY = Buffer.from('{"pin":"001099012345","attributes":{"fullName":"Nguyễn Văn An"}}')

export interface TestRequest {
  method: string
  path: string
  authority: string
  headers: Record<string, string>
  body: Uint8Array
}

export function signed (key: SigningKey, options: SignOptions = {}, body: Uint8Array = BODY, path = '/v1/verify'): TestRequest {
  const req = { method: 'POST', path, authority: 'idv.example.vn', headers: { 'content-type': 'application/json' }, body }
  return { ...req, headers: signRequest(req, key, { created: NOW_S, ...options }) }
}

/** The verifier's view of a request (headers by lowercase name). */
export function input (req: TestRequest): SignedRequestInput {
  const lower = new Map(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]))
  return { method: req.method, path: req.path, authority: req.authority, headers: (n) => lower.get(n), body: req.body }
}
