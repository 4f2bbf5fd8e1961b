/**
 * Compact JWS (RFC 7515) with EdDSA/Ed25519 (RFC 8037), signed and verified
 * with node:crypto. Hand-written rather than taken from `jose` because the
 * signing side is on the answer path: node:crypto signs synchronously in one
 * call, where jose goes through async WebCrypto; and the format is three
 * base64url segments. Verification is strict: alg must be EdDSA (never taken
 * from the token to pick an algorithm), `crit` is refused, the key comes only
 * from the JWKS given by kid.
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import type { Jwk, Jwks } from './keys.js'

const B64URL = /^[A-Za-z0-9_-]*$/

/**
 * Decodes base64url only in its canonical form: Buffer's decoder ignores the
 * spare low bits of the last character, so without this check two different
 * strings would carry the same signature and "any changed byte fails" would not hold.
 */
export function strictBase64url (s: string): Buffer | undefined {
  if (!B64URL.test(s)) return undefined
  const bytes = Buffer.from(s, 'base64url')
  return bytes.toString('base64url') === s ? bytes : undefined
}

export function signCompact (header: Record<string, unknown>, payload: Record<string, unknown>, privateKey: KeyObject): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`
}

export type JwsCheck =
  | { readonly ok: true, readonly kid: string, readonly header: Record<string, unknown>, readonly payload: Record<string, unknown> }
  | { readonly ok: false, readonly reason: string }

function decodeJson (segment: string): Record<string, unknown> | undefined {
  const bytes = strictBase64url(segment)
  if (bytes === undefined) return undefined
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'))
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

function jwkFor (jwks: unknown, kid: string): Jwk | undefined {
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as Jwks).keys)) return undefined
  return (jwks as Jwks).keys.find((k) => typeof k === 'object' && k !== null && k.kid === kid)
}

/** Verifies a compact JWS against a JWKS; never throws. */
export function verifyCompact (jws: unknown, jwks: unknown): JwsCheck {
  if (typeof jws !== 'string' || jws.length > 16_384) return { ok: false, reason: 'the signed root is not a compact JWS string' }
  const parts = jws.split('.')
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return { ok: false, reason: 'the signed root is not three base64url segments' }
  const [h, p, s] = parts as [string, string, string]
  const header = decodeJson(h)
  const payload = decodeJson(p)
  if (header === undefined || payload === undefined) return { ok: false, reason: 'the JWS header or payload is not a JSON object' }
  if (header.alg !== 'EdDSA') return { ok: false, reason: `JWS alg ${JSON.stringify(header.alg)} is not EdDSA` }
  if (header.crit !== undefined) return { ok: false, reason: 'JWS crit extensions are not supported' }
  if (typeof header.kid !== 'string') return { ok: false, reason: 'the JWS header has no kid' }
  const jwk = jwkFor(jwks, header.kid)
  if (jwk === undefined) return { ok: false, reason: `no key ${header.kid} in the JWKS` }
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || (jwk.alg !== undefined && jwk.alg !== 'EdDSA')) {
    return { ok: false, reason: `key ${header.kid} is not an Ed25519 signing key` }
  }
  let key: KeyObject
  try {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' })
  } catch {
    return { ok: false, reason: `key ${header.kid} in the JWKS is malformed` }
  }
  const signature = strictBase64url(s)
  let good = false
  try {
    good = signature !== undefined && signature.length === 64 && verify(null, Buffer.from(`${h}.${p}`), key, signature)
  } catch {
    good = false
  }
  if (!good) return { ok: false, reason: `the JWS signature does not verify with key ${header.kid}` }
  return { ok: true, kid: header.kid, header, payload }
}
