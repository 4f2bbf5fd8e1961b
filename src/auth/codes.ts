/**
 * Stable failure codes of relying-party authentication, authorisation and rate
 * limiting, with their HTTP statuses; src/errors.ts merges them into the one
 * ERROR_CODES table.
 */

export const AUTH_ERROR_CODES = {
  IDV_ERR_SIGNATURE_MISSING: { status: 401, title: 'Signature missing', fix: 'Sign the request with HTTP Message Signatures (RFC 9421): send Signature-Input and Signature headers.' },
  IDV_ERR_SIGNATURE_INVALID: { status: 401, title: 'Signature invalid', fix: 'The signature is malformed, does not cover @method, @path, content-digest and created, or does not verify; detail says which.' },
  IDV_ERR_UNKNOWN_KEY: { status: 401, title: 'Unknown key', fix: 'The keyid is not registered; ask the operator to register your public key or shared secret.' },
  IDV_ERR_KEY_EXPIRED: { status: 401, title: 'Key outside its validity window', fix: 'The key was rotated out or is not valid yet; sign with your current key.' },
  IDV_ERR_DIGEST_MISMATCH: { status: 401, title: 'Content digest missing or wrong', fix: 'Send Content-Digest: sha-256=:<base64 of SHA-256 of the body>: (RFC 9530) and cover it with the signature.' },
  IDV_ERR_SIGNATURE_EXPIRED: { status: 401, title: 'Signature outside the time window', fix: 'The created parameter is too old or in the future (or expires has passed); sign each request just before sending it and keep your clock synchronised (NTP).' },
  IDV_ERR_REPLAY: { status: 401, title: 'Replayed request', fix: 'The nonce was already used within the time window; send a fresh random nonce with every request.' },
  IDV_ERR_PARTY_DISABLED: { status: 403, title: 'Relying party disabled', fix: 'Your access is disabled; contact the operator.' },
  IDV_ERR_ENDPOINT_FORBIDDEN: { status: 403, title: 'Endpoint not allowed', fix: 'Your party may not call this endpoint; ask the operator to allow it.' },
  IDV_ERR_ATTRIBUTE_FORBIDDEN: { status: 403, title: 'Attribute not allowed', fix: 'Your party may not ask about the attribute named in detail; ask only about allowed attributes.' },
  IDV_ERR_BATCH_TOO_LARGE: { status: 403, title: 'Batch over the party limit', fix: 'Your party may send at most the number of items in detail per batch; split it.' },
  IDV_ERR_RATE_LIMITED: { status: 429, title: 'Rate limit reached', fix: 'Slow down; retry after the time in Retry-After.' },
  IDV_ERR_QUOTA_EXCEEDED: { status: 429, title: 'Daily quota used up', fix: 'The daily quota is used up; retry after the time in Retry-After (the next quota day).' },
  IDV_ERR_REPLAY_CAPACITY: { status: 503, title: 'Replay memory full', fix: 'The service cannot remember more nonces right now; retry after the time in Retry-After.' }
} as const satisfies Record<string, { status: number, title: string, fix: string }>

export type AuthErrorCode = keyof typeof AUTH_ERROR_CODES

/** A typed failure: code for machines, detail for the developer reading it. */
export interface AuthFailure<C extends AuthErrorCode = AuthErrorCode> {
  readonly ok: false
  readonly code: C
  readonly detail: string
}

export function authFailure<C extends AuthErrorCode> (code: C, detail: string): AuthFailure<C> {
  return { ok: false, code, detail }
}

export function authStatus (code: AuthErrorCode): number {
  return AUTH_ERROR_CODES[code].status
}
