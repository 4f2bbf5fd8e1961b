/**
 * RFC 9530 Content-Digest: `sha-256=:<base64>:`. Signing the digest instead of
 * the body lets the signature base stay small whatever the body size.
 *
 * Verification requires sha-256 (the algorithm the API documents) and, when the
 * client also sent sha-512, checks that too; other algorithms are ignored as
 * RFC 9530 §2 allows.
 */
import { createHash, hash, timingSafeEqual } from 'node:crypto'
import { parseDictionaryField } from './structured-fields.js'
import { clip } from '../clip.js'

/** The header every client of ours and most others send: one sha-256 member, canonical base64, no parameters. */
const SHA256_ONLY = /^sha-256=:([A-Za-z0-9+/]{43}=):$/

const CHECKED = { 'sha-256': 'sha256', 'sha-512': 'sha512' } as const

export type DigestCheck =
  | { readonly ok: true }
  | { readonly ok: false, readonly reason: 'missing' | 'malformed' | 'no-sha-256' | 'mismatch', readonly detail: string }

/** The header value for a body. */
export function createContentDigest (body: Uint8Array): string {
  return `sha-256=:${hash('sha256', body, 'base64')}:`
}

/** Checks a Content-Digest header against the body; never throws. */
export function verifyContentDigest (header: string | undefined, body: Uint8Array): DigestCheck {
  if (header === undefined || header === '') return { ok: false, reason: 'missing', detail: 'Content-Digest header missing' }
  // Fast path: equal to the canonical base64 of the body's digest is a match; anything else
  // (other members, non-canonical base64, a mismatch) takes the full parse below.
  const only = SHA256_ONLY.exec(header)
  if (only !== null && only[1] === hash('sha256', body, 'base64')) return { ok: true }
  const parsed = parseDictionaryField(header)
  if (!parsed.ok) return { ok: false, reason: 'malformed', detail: `Content-Digest: ${parsed.reason}` }
  let sawSha256 = false
  for (const [name, member] of parsed.value) {
    if (name !== 'sha-256' && name !== 'sha-512') continue
    const got = member[0] instanceof Uint8Array ? member[0] : undefined
    if (got === undefined) return { ok: false, reason: 'malformed', detail: `Content-Digest ${clip(name)} is not a byte sequence` }
    const want = createHash(CHECKED[name]).update(body).digest()
    // The digest is not a secret, but a constant-time compare costs nothing here.
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      return { ok: false, reason: 'mismatch', detail: `Content-Digest ${clip(name)} does not match the body` }
    }
    if (name === 'sha-256') sawSha256 = true
  }
  if (!sawSha256) return { ok: false, reason: 'no-sha-256', detail: 'Content-Digest must include sha-256' }
  return { ok: true }
}
