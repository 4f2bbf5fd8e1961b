/**
 * Stable failure codes of request authentication (RFC 9421 signatures, keys,
 * digests, freshness, replay), added to the one error registry (src/errors.ts).
 */
import { defineErrorCodes } from '../errors.js'

export const SIGNATURE_ERROR_CODES = defineErrorCodes({
  IDV_ERR_SIGNATURE_MISSING: { status: 401, title: 'Signature missing', fix: 'Sign the request with HTTP Message Signatures (RFC 9421): send Signature-Input and Signature headers.' },
  IDV_ERR_SIGNATURE_INVALID: { status: 401, title: 'Signature invalid', fix: 'The signature is malformed, does not cover @method, @path, content-digest and created, or does not verify; detail says which.' },
  IDV_ERR_UNKNOWN_KEY: { status: 401, title: 'Unknown key', fix: 'The keyid is not registered; ask the operator to register your public key or shared secret.' },
  IDV_ERR_KEY_EXPIRED: { status: 401, title: 'Key outside its validity window', fix: 'The key was rotated out or is not valid yet; sign with your current key.' },
  IDV_ERR_DIGEST_MISMATCH: { status: 401, title: 'Content digest missing or wrong', fix: 'Send Content-Digest: sha-256=:<base64 of SHA-256 of the body>: (RFC 9530) and cover it with the signature.' },
  IDV_ERR_SIGNATURE_EXPIRED: { status: 401, title: 'Signature outside the time window', fix: 'The created parameter is too old or in the future (or expires has passed); sign each request just before sending it and keep your clock synchronised (NTP).' },
  IDV_ERR_REPLAY: { status: 401, title: 'Replayed request', fix: 'The nonce was already used within the time window; send a fresh random nonce with every request.' },
  // Checked once the signature verified, so that 403 is no oracle for strangers.
  IDV_ERR_PARTY_DISABLED: { status: 403, title: 'Relying party disabled', fix: 'Your access is disabled; contact the operator.' },
  IDV_ERR_REPLAY_CAPACITY: { status: 503, title: 'Replay memory full', fix: 'The service cannot remember more nonces right now; retry after the time in Retry-After.' }
}, { retrySoon: ['IDV_ERR_REPLAY_CAPACITY'] })

type SignatureCodes = typeof SIGNATURE_ERROR_CODES
declare module '../errors.js' {
  interface ErrorCodeRegistry extends SignatureCodes {}
}
